import { FleetSpecError, FleetSpecErrorCode, ProblemCollector } from '../../../lib/spec/errors';

const C = FleetSpecErrorCode;
const ALL = Object.values(FleetSpecErrorCode) as FleetSpecErrorCode[];
const BROAD = [C.CLOUD_CONSTRAINT, C.WORKLOAD];
/** The codes of the neutral spec, their own family (they named their rule from the start). */
const NEUTRAL = [
  C.CAPACITY_NEGATIVE, C.CAPACITY_ORDER, C.ON_DEMAND_BASE_ABOVE_MAX, C.PERCENTAGE_RANGE, C.NOT_DIVERSIFIED, C.INSTANCE_SELECTION,
  C.INSTANCE_REQUIREMENTS, C.MIXED_ARCHITECTURES, C.DRAIN_BUDGET_EXCEEDED, C.HEALTH_CHECK_PATH, C.HEALTH_CHECK_RANGE, C.PORT_RANGE,
  C.ZONES, C.UNKNOWN_INSTANCE_TYPE, C.MIXED_ACCELERATORS, C.TOO_FEW_ZONES, C.UNKNOWN_ENUM_VALUE,
];

describe('FleetSpecErrorCode families', () => {
  test('every code is the string of its own name (a code never changes meaning once released)', () => {
    for (const [name, value] of Object.entries(FleetSpecErrorCode)) expect([name, value]).toEqual([name, name]);
  });

  test('the neutral codes and the two broad codes are their own family', () => {
    for (const code of [...NEUTRAL, ...BROAD]) expect([code, FleetSpecError.familyOf(code)]).toEqual([code, code]);
  });

  test('every rule code belongs to CLOUD_CONSTRAINT or WORKLOAD, the code it replaced', () => {
    const rules = ALL.filter((c) => !NEUTRAL.includes(c) && !BROAD.includes(c));
    expect(rules.length).toBeGreaterThan(40);
    for (const code of rules) expect([code, BROAD]).toEqual([code, expect.arrayContaining([FleetSpecError.familyOf(code)])]);
  });

  test('the prefix tells the family: a cloud rule is CLOUD_CONSTRAINT, a queue or batch rule is WORKLOAD', () => {
    for (const code of ALL) {
      if (/^(AWS|GCP|AZURE|AGENT_POLL|AGENT_LIFECYCLE|DRILL|FALLBACK_(CAPACITY|SCHEDULE|SPARES)|REGION)_?/.test(code)) expect([code, FleetSpecError.familyOf(code)]).toEqual([code, C.CLOUD_CONSTRAINT]);
      if (/^(QUEUE|BATCH|WORKLOAD|PLAN)_/.test(code)) expect([code, FleetSpecError.familyOf(code)]).toEqual([code, C.WORKLOAD]);
    }
  });

  test('examples of the rules a user can now tell apart', () => {
    expect(FleetSpecError.familyOf(C.AWS_TOO_MANY_OVERRIDES)).toBe(C.CLOUD_CONSTRAINT);
    expect(FleetSpecError.familyOf(C.AGENT_POLL_INTERVAL)).toBe(C.CLOUD_CONSTRAINT);
    expect(FleetSpecError.familyOf(C.AGENT_DRAIN_OPTIONS)).toBe(C.WORKLOAD);
    expect(FleetSpecError.familyOf(C.QUEUE_TIMING)).toBe(C.WORKLOAD);
    expect(FleetSpecError.familyOf(C.BATCH_RETRY_POLICY)).toBe(C.WORKLOAD);
  });

  test('familyOf a string that is no code says so and how to fix it', () => {
    expect(() => FleetSpecError.familyOf('NOPE' as FleetSpecErrorCode)).toThrow(
      'familyOf: "NOPE" is not a FleetSpecErrorCode; use a FleetSpecErrorCode member, e.g. FleetSpecErrorCode.CLOUD_CONSTRAINT',
    );
  });
});

describe('FleetSpecError matching', () => {
  const err = new FleetSpecError(
    [
      { code: C.AWS_TOO_MANY_OVERRIDES, prop: 'instanceTypes', message: 'instanceTypes lists 41 types' },
      { code: C.QUEUE_TIMING, prop: 'visibilityTimeout', message: 'visibilityTimeout (10 s) is shorter than messageProcessingTime (60 s)' },
      { code: C.PORT_RANGE, prop: 'servingPort', message: 'servingPort (0) must be between 1 and 65535' },
    ],
    'Stack/Fleet',
  );

  test('code is the first rule; family its broad code', () => {
    expect(err.code).toBe(C.AWS_TOO_MANY_OVERRIDES);
    expect(err.family).toBe(C.CLOUD_CONSTRAINT);
    expect(err.name).toBe('FleetSpecError');
    expect(err).toBeInstanceOf(Error);
  });

  test('hasCode matches a rule code, the broad code it replaced (old matches keep working) and a neutral code', () => {
    expect(err.hasCode(C.AWS_TOO_MANY_OVERRIDES)).toBe(true);
    expect(err.hasCode(C.CLOUD_CONSTRAINT)).toBe(true);
    expect(err.hasCode(C.WORKLOAD)).toBe(true);
    expect(err.hasCode(C.QUEUE_TIMING)).toBe(true);
    expect(err.hasCode(C.PORT_RANGE)).toBe(true);
  });

  test('hasCode does not match a code of another rule or family', () => {
    expect(err.hasCode(C.AWS_LAUNCH_TEMPLATE)).toBe(false);
    expect(err.hasCode(C.QUEUE_LIMITS)).toBe(false);
    expect(err.hasCode(C.DRAIN_BUDGET_EXCEEDED)).toBe(false);
    const neutral = new FleetSpecError([{ code: C.PORT_RANGE, prop: 'servingPort', message: 'x' }]);
    expect(neutral.hasCode(C.CLOUD_CONSTRAINT)).toBe(false);
    expect(neutral.family).toBe(C.PORT_RANGE);
  });

  test('problemsWithCode picks the problems of a rule or a family', () => {
    expect(err.problemsWithCode(C.CLOUD_CONSTRAINT).map((p) => p.prop)).toEqual(['instanceTypes']);
    expect(err.problemsWithCode(C.WORKLOAD).map((p) => p.prop)).toEqual(['visibilityTimeout']);
    expect(err.problemsWithCode(C.PORT_RANGE).map((p) => p.prop)).toEqual(['servingPort']);
    expect(err.problemsWithCode(C.AWS_SUBNETS)).toEqual([]);
  });

  test('matches is the same rule as a static, for a problem list without an error', () => {
    expect(FleetSpecError.matches(C.AWS_LIFECYCLE_HOOK, C.CLOUD_CONSTRAINT)).toBe(true);
    expect(FleetSpecError.matches(C.AWS_LIFECYCLE_HOOK, C.AWS_LIFECYCLE_HOOK)).toBe(true);
    expect(FleetSpecError.matches(C.AWS_LIFECYCLE_HOOK, C.WORKLOAD)).toBe(false);
    expect(FleetSpecError.matches(C.CLOUD_CONSTRAINT, C.CLOUD_CONSTRAINT)).toBe(true);
    // A code this release does not know (a newer one, cast from a string) is only its own family.
    expect(FleetSpecError.matches('GCP_SOMETHING_NEW' as FleetSpecErrorCode, C.CLOUD_CONSTRAINT)).toBe(false);
    expect(FleetSpecError.matches('GCP_SOMETHING_NEW' as FleetSpecErrorCode, 'GCP_SOMETHING_NEW' as FleetSpecErrorCode)).toBe(true);
  });
});

describe('FleetSpecError messages', () => {
  test('one problem: scope, message, then the rule code at the end', () => {
    const e = new FleetSpecError([{ code: C.AGENT_POLL_INTERVAL, prop: 'pollIntervalSeconds', message: 'pollIntervalSeconds (30) must be more than 0 and at most 10' }], 'Stack/Fleet');
    expect(e.message).toBe('Stack/Fleet: pollIntervalSeconds (30) must be more than 0 and at most 10 [AGENT_POLL_INTERVAL]');
  });

  test('several problems: each line ends with its own rule code', () => {
    const v = new ProblemCollector();
    v.add(C.AWS_ROOT_VOLUME, 'rootVolumeSizeGiB', 'rootVolumeSizeGiB (10) must be a whole number from 75 to 16384');
    v.add(C.AWS_METADATA_HOP_LIMIT, 'metadataHopLimit', 'metadataHopLimit (0) must be a whole number from 1 to 64');
    let e: FleetSpecError | undefined;
    try {
      v.throwIfAny('Stack/Fleet');
    } catch (x) {
      e = x as FleetSpecError;
    }
    expect(e!.message).toBe(
      'Stack/Fleet: 2 problems in the fleet spec:\n' +
        '  - rootVolumeSizeGiB (10) must be a whole number from 75 to 16384 [AWS_ROOT_VOLUME]\n' +
        '  - metadataHopLimit (0) must be a whole number from 1 to 64 [AWS_METADATA_HOP_LIMIT]',
    );
    expect(e!.problems.map((p) => p.code)).toEqual([C.AWS_ROOT_VOLUME, C.AWS_METADATA_HOP_LIMIT]);
    expect(e!.hasCode(C.CLOUD_CONSTRAINT)).toBe(true);
  });

  test('no problem at all is a programming error', () => {
    expect(() => new FleetSpecError([])).toThrow('FleetSpecError needs at least one problem');
    expect(() => new ProblemCollector().throwIfAny('x')).not.toThrow();
  });
});
