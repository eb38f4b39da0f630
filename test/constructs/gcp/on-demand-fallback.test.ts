import 'cdktf/lib/testing/adapters/jest';
import { Testing } from 'cdktf';
import { CloudSchedulerJob } from '@cdktf/provider-google/lib/cloud-scheduler-job';
import { Cloudfunctions2Function } from '@cdktf/provider-google/lib/cloudfunctions2-function';
import { EventarcTrigger } from '@cdktf/provider-google/lib/eventarc-trigger';
import { ProjectIamCustomRole } from '@cdktf/provider-google/lib/project-iam-custom-role';
import { ProjectIamMember } from '@cdktf/provider-google/lib/project-iam-member';
import { PubsubTopic } from '@cdktf/provider-google/lib/pubsub-topic';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account';
import { FALLBACK_REPLICAS_METRIC_TYPE, GcpInferenceLoadBalancer, GcpOnDemandFallback, GcpPreemptionHook, GcpSpotFleet } from '../../../constructs/gcp';
import { FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec';
import { ensureBundles, fleetProps, ofType, one, synth } from './helpers';

Testing.setupJest();
beforeAll(ensureBundles);

describe('GcpOnDemandFallback', () => {
  const { json, resources } = synth((scope) => {
    const fleet = new GcpSpotFleet(scope, 'Fleet', fleetProps());
    const hook = new GcpPreemptionHook(scope, 'Hook', { fleet });
    const lb = new GcpInferenceLoadBalancer(scope, 'Lb', { fleet });
    new GcpOnDemandFallback(scope, 'Fallback', { fleet, preemptionHook: hook, backendService: lb.backendService, policy: { scaleInStabilizationSeconds: 120 } });
  });
  const fn = one(resources, 'google_cloudfunctions2_function', 'Fallback');

  test('function: Node.js 22, one instance, internal ingress, its own service account, env from the fleet', () => {
    expect(json).toHaveResourceWithProperties(Cloudfunctions2Function, {
      name: 'llm-fallback',
      location: 'us-central1',
      build_config: expect.objectContaining({ runtime: 'nodejs22', entry_point: 'handleFallback' }),
    });
    expect(fn.service_config).toMatchObject({
      max_instance_count: 1,
      max_instance_request_concurrency: 1,
      ingress_settings: 'ALLOW_INTERNAL_ONLY',
      environment_variables: {
        FLEET_NAME: 'llm',
        GCP_PROJECT: 'test-project',
        FLEET_REGION: 'us-central1',
        ON_DEMAND_BASE: '1',
        MAX_CAPACITY: '8',
        DEFAULT_MACHINE_TYPE: 'g2-standard-8',
        INSTANCE_NAME_PREFIX: 'llm-spot-',
        STATE_OBJECT: 'fallback-state/llm.json',
        METRIC_TYPE: FALLBACK_REPLICAS_METRIC_TYPE,
        POLICY_OPTIONS: '{"scaleInStabilizationSeconds":120}',
      },
    });
    expect(fn.service_config.service_account_email).toMatch(/google_service_account\.Fallback_ServiceAccount_\w+\.email/);
    expect(fn.service_config.environment_variables.ON_DEMAND_GROUP).toMatch(/google_compute_region_instance_group_manager\.Fleet_OnDemandGroup_\w+\.name/);
    expect(fn.build_config.source.storage_source.object).toMatch(/google_storage_bucket_object\.Fallback_FunctionSource_\w+\.name/);
    expect(one(resources, 'google_storage_bucket_object', 'Fallback_FunctionSource').name).toMatch(/^fallback-function-[0-9A-F]{16}\.zip$/);
  });

  test('scheduled every minute through its own topic; ticks are not retried', () => {
    expect(json).toHaveResourceWithProperties(CloudSchedulerJob, {
      name: 'llm-fallback-tick',
      schedule: '* * * * *',
      time_zone: 'Etc/UTC',
      region: 'us-central1',
    });
    const job = one(resources, 'google_cloud_scheduler_job', 'Fallback');
    expect(job.pubsub_target.topic_name).toMatch(/google_pubsub_topic\.Fallback_TickTopic_\w+\.id/);
    expect(Buffer.from(job.pubsub_target.data, 'base64').toString()).toBe('{"kind":"fallback-tick"}');
    expect(json).toHaveResourceWithProperties(PubsubTopic, { name: 'llm-fallback-tick' });
    expect(fn.event_trigger).toMatchObject({ event_type: 'google.cloud.pubsub.topic.v1.messagePublished', retry_policy: 'RETRY_POLICY_DO_NOT_RETRY' });
    expect(fn.event_trigger.pubsub_topic).toMatch(/Fallback_TickTopic_\w+\.id/);
  });

  test('second trigger: the preemption hook topic, to the same function, as the invoker account', () => {
    expect(json).toHaveResourceWithProperties(EventarcTrigger, {
      name: 'llm-fallback-preempted',
      location: 'us-central1',
      matching_criteria: [{ attribute: 'type', value: 'google.cloud.pubsub.topic.v1.messagePublished' }],
    });
    const trigger = one(resources, 'google_eventarc_trigger', 'Fallback');
    expect(trigger.transport.pubsub.topic).toMatch(/google_pubsub_topic\.Hook_Topic_\w+\.id/);
    expect(trigger.destination.cloud_run_service.service).toMatch(/Fallback_Function_\w+\.service_config\[0\]\.service/);
    expect(trigger.service_account).toMatch(/Fallback_TriggerServiceAccount_\w+\.email/);
    const invoke = one(resources, 'google_cloud_run_v2_service_iam_member', 'Fallback');
    expect(invoke.role).toBe('roles/run.invoker');
    expect(invoke.member).toMatch(/Fallback_TriggerServiceAccount_\w+\.member/);
  });

  test('scoped roles: get on the two groups, resize (update) on the standard group only, by IAM condition', () => {
    expect(json).toHaveResourceWithProperties(ProjectIamCustomRole, { role_id: 'llm_spot_fallback_read', permissions: ['compute.instanceGroupManagers.get'] });
    expect(json).toHaveResourceWithProperties(ProjectIamCustomRole, { role_id: 'llm_spot_fallback_resize', permissions: ['compute.instanceGroupManagers.update'] });
    const read = one(resources, 'google_project_iam_member', 'Fallback_ReadGroups');
    expect(read.role).toMatch(/Fallback_ReadRole_\w+\.id/);
    expect(read.condition.expression).toMatch(
      /^resource\.name == "projects\/test-project\/regions\/us-central1\/instanceGroupManagers\/\$\{google_compute_region_instance_group_manager\.Fleet_SpotGroup_\w+\.name\}" \|\| resource\.name == "projects\/test-project\/regions\/us-central1\/instanceGroupManagers\/\$\{google_compute_region_instance_group_manager\.Fleet_OnDemandGroup_\w+\.name\}"( \|\| resource\.name == "projects\/test-project\/zones\/us-central1-[abc]\/instanceGroupManagers\/\$\{google_compute_instance_group_manager\.Fallback_SpareGroup[ABC]_\w+\.name\}"){3}$/,
    );
    const resize = one(resources, 'google_project_iam_member', 'Fallback_ResizeOnDemandGroup');
    expect(resize.role).toMatch(/Fallback_ResizeRole_\w+\.id/);
    expect(resize.condition.expression).toMatch(/^resource\.name == "projects\/test-project\/regions\/us-central1\/instanceGroupManagers\/\$\{google_compute_region_instance_group_manager\.Fleet_OnDemandGroup_\w+\.name\}"( \|\| resource\.name == "projects\/test-project\/zones\/us-central1-[abc]\/instanceGroupManagers\/\$\{google_compute_instance_group_manager\.Fallback_SpareGroup[ABC]_\w+\.name\}"){3}$/);
    // the spot group is never resized
    expect(resize.condition.expression).not.toMatch(/Fleet_SpotGroup/);
    const members = ofType(resources, 'google_project_iam_member').filter((m) => String(m.member).includes('Fallback_ServiceAccount'));
    expect(members.map((m) => (String(m.role).startsWith('roles/') ? m.role : 'custom')).sort()).toEqual(['custom', 'custom', 'roles/monitoring.metricWriter']);
    expect(json).toHaveResourceWithProperties(ProjectIamMember, { role: 'roles/monitoring.metricWriter' });
  });

  test('state: object admin on its own prefix of the artifact bucket only', () => {
    const grant = one(resources, 'google_storage_bucket_iam_member', 'Fallback_StateObjectAdmin');
    expect(grant.role).toBe('roles/storage.objectAdmin');
    expect(grant.member).toMatch(/Fallback_ServiceAccount_\w+\.member/);
    expect(grant.condition.expression).toMatch(/^resource\.name\.startsWith\("projects\/_\/buckets\/\$\{google_storage_bucket\.Fleet_Artifacts_\w+\.name\}\/objects\/fallback-state\/"\)$/);
  });

  test('service accounts fit the 30-character account id limit', () => {
    expect(json).toHaveResourceWithProperties(ServiceAccount, { account_id: 'llm-fallback' });
    expect(json).toHaveResourceWithProperties(ServiceAccount, { account_id: 'llm-fb-invoker' });
  });

  test('spare groups: one zonal MIG per zone on the spot template, size 0, Terraform leaves the size to the controller; the function knows them', () => {
    const spares = ofType(resources, 'google_compute_instance_group_manager');
    expect(spares.map((g) => [g.zone, g.name, g.target_size])).toEqual([
      ['us-central1-a', 'llm-spare-a', 0],
      ['us-central1-b', 'llm-spare-b', 0],
      ['us-central1-c', 'llm-spare-c', 0],
    ]);
    for (const g of spares) {
      expect(g.lifecycle).toEqual({ ignore_changes: ['target_size'] });
      expect(g.version[0].instance_template).toMatch(/google_compute_region_instance_template\.Fleet_SpotTemplate_\w+\.self_link/);
      expect(g.named_port).toEqual([{ name: 'http', port: expect.any(Number) }]);
    }
    const env = fn.service_config.environment_variables;
    expect(JSON.parse(env.SPARE_GROUPS)).toEqual([
      { name: 'llm-spare-a', zone: 'us-central1-a', maxSize: 1 },
      { name: 'llm-spare-b', zone: 'us-central1-b', maxSize: 1 },
      { name: 'llm-spare-c', zone: 'us-central1-c', maxSize: 1 },
    ]);
    expect(env.SPARE_INSTANCE_NAME_PREFIX).toBe('llm-spare-');
    // they serve: the backend service lists the fleet's two groups, then the three spare groups
    const backend = one(resources, 'google_compute_backend_service', 'Lb').backend;
    expect(backend.map((b: { group: string }) => b.group.replace(/_\w+\./, '.'))).toEqual([
      expect.stringMatching(/Fleet_SpotGroup.*instance_group/),
      expect.stringMatching(/Fleet_OnDemandGroup.*instance_group/),
      expect.stringMatching(/Fallback_SpareGroupA.*instance_group/),
      expect.stringMatching(/Fallback_SpareGroupB.*instance_group/),
      expect.stringMatching(/Fallback_SpareGroupC.*instance_group/),
    ]);
    expect(backend[2]).toMatchObject({ balancing_mode: 'UTILIZATION', capacity_scaler: 1 });
  });

  test('Terraform leaves the standard group size to the controller', () => {
    const od = one(resources, 'google_compute_region_instance_group_manager', 'Fleet_OnDemandGroup');
    expect(od.lifecycle).toEqual({ ignore_changes: ['target_size'] });
    expect(od.target_size).toBe(1);
  });

  test('without a preemption hook: scheduled runs only', () => {
    const { resources: r } = synth((scope) => {
      const fleet = new GcpSpotFleet(scope, 'Fleet', fleetProps());
      new GcpOnDemandFallback(scope, 'Fallback', { fleet, schedule: '*/2 * * * *' });
    });
    expect(r.google_eventarc_trigger).toBeUndefined();
    expect(one(r, 'google_cloud_scheduler_job', 'Fallback').schedule).toBe('*/2 * * * *');
  });
});

describe('GcpOnDemandFallback validation', () => {
  function attempt(props: Partial<ConstructorParameters<typeof GcpOnDemandFallback>[2]>, fleetOverrides = {}): () => void {
    return () =>
      Testing.synthScope((scope) => {
        const fleet = new GcpSpotFleet(scope, 'Fleet', fleetProps(fleetOverrides));
        new GcpOnDemandFallback(scope, 'Fallback', { fleet, ...props });
      });
  }

  test('a schedule that is not five cron fields', () => {
    expect(attempt({ schedule: 'every 1 minutes' })).toThrow(
      /schedule \("every 1 minutes"\) must be a cron expression of five fields \(minute hour day month weekday\), as Cloud Scheduler takes it; use e\.g\. '\* \* \* \* \*' \(every minute\) \[FALLBACK_SCHEDULE\]/,
    );
  });

  test('bad policy options, all reported together with the prop path', () => {
    let err: FleetSpecError | undefined;
    try {
      attempt({ policy: { scaleInStabilizationSeconds: -1, spareSpotReplicas: 1.5 }, schedule: 'x' })();
    } catch (e) {
      err = e as FleetSpecError;
    }
    expect(err).toBeInstanceOf(FleetSpecError);
    expect(err!.problems.map((p) => p.prop)).toEqual(['schedule', 'policy.scaleInStabilizationSeconds', 'policy.spareSpotReplicas']);
    expect(err!.message).toMatch(/policy\.scaleInStabilizationSeconds \(-1\) must be a finite number, 0 or more/);
    expect(err!.message).toMatch(/policy\.spareSpotReplicas \(1\.5\) must be a whole number of replicas; use 2/);
  });

  test('a fleet without a spot share has nothing to fall back from', () => {
    let err: FleetSpecError | undefined;
    try {
      attempt({}, { minCapacity: 2, desiredCapacity: 2, maxCapacity: 2, onDemandBaseCapacity: 2 })();
    } catch (e) {
      err = e as FleetSpecError;
    }
    expect(err?.code).toBe(FleetSpecErrorCode.FALLBACK_CAPACITY);
    expect(err?.message).toMatch(/fleet llm has no spot share \(maxCapacity 2 = 2 standard VMs\), so there is nothing to fall back from; raise maxCapacity above the on-demand count or leave the fallback out/);
  });

  test('spare groups need the fleet zones and a policy with spares; without them no spare group is made', () => {
    expect(attempt({ spareGroups: true }, { zones: undefined })).toThrow(/spareGroups is true but fleet llm does not list its zones \(or they are tokens\): one spare group is made per zone, so list the fleet's zones/);
    expect(attempt({ spareGroups: true, policy: { spareSpotReplicas: 0 } })).toThrow(/spareGroups is true but policy\.spareSpotReplicas is 0.*set policy\.spareSpotReplicas to 1 or more, or leave spareGroups out/);
    // (a load-balanced fleet without a backend service to add them to: spares would count as ready but not serve)
    for (const [props, fleet] of [[{ policy: { spareSpotReplicas: 0 } }, {}], [{ spareGroups: false }, {}], [{}, { zones: undefined }], [{}, {}]] as const) {
      const out = JSON.parse(Testing.synthScope((scope) => {
        const f = new GcpSpotFleet(scope, 'Fleet', fleetProps(fleet));
        new GcpOnDemandFallback(scope, 'Fallback', { fleet: f, ...props });
      }));
      expect(out.resource?.google_compute_instance_group_manager).toBeUndefined();
    }
  });

  test('additionalFleets: one controller over several regions, their standard groups handed to it, REGIONS in its settings, IAM on their groups', () => {
    const out = JSON.parse(Testing.synthScope((scope) => {
      const home = new GcpSpotFleet(scope, 'Fleet', fleetProps());
      const eu = new GcpSpotFleet(scope, 'FleetEu', fleetProps({ name: 'llm-eu', region: 'europe-west4', zones: ['europe-west4-a', 'europe-west4-b'] }));
      new GcpOnDemandFallback(scope, 'Fallback', { fleet: home, additionalFleets: [eu], spareGroups: false });
    }));
    const fn = Object.values(out.resource.google_cloudfunctions2_function)[0] as any;
    const regions = JSON.parse(fn.service_config.environment_variables.REGIONS);
    expect(regions.map((r: { region: string }) => r.region)).toEqual(['us-central1', 'europe-west4']);
    expect(regions[1]).toMatchObject({ onDemandBase: 1, defaultMachineType: expect.any(String) });
    const members = Object.entries(out.resource.google_project_iam_member as Record<string, any>);
    const resize = members.find(([k]) => k.startsWith('Fallback_ResizeOnDemandGroup'))![1];
    expect(resize.condition.expression).toMatch(/regions\/europe-west4\/instanceGroupManagers\/\$\{google_compute_region_instance_group_manager\.FleetEu_OnDemandGroup_\w+\.name\}/);
    expect(resize.condition.expression).not.toMatch(/FleetEu_SpotGroup/);
    const eu = Object.entries(out.resource.google_compute_region_instance_group_manager as Record<string, any>).find(([k]) => k.startsWith('FleetEu_OnDemandGroup'))![1];
    expect(eu.lifecycle).toEqual({ ignore_changes: ['target_size'] });
  });

  test('additionalFleets get spare groups too: per zone of each fleet on its own spot template, in REGIONS and the IAM conditions, in the backend service at spareCapacityScalers', () => {
    const out = JSON.parse(Testing.synthScope((scope) => {
      const home = new GcpSpotFleet(scope, 'Fleet', fleetProps());
      const eu = new GcpSpotFleet(scope, 'FleetEu', fleetProps({ name: 'llm-eu', region: 'europe-west4', zones: ['europe-west4-a', 'europe-west4-b'] }));
      const lb = new GcpInferenceLoadBalancer(scope, 'Lb', { fleet: home });
      new GcpOnDemandFallback(scope, 'Fallback', { fleet: home, additionalFleets: [eu], backendService: lb.backendService, spareCapacityScalers: { 'europe-west4': 0.3 } });
    }));
    const spares = Object.entries(out.resource.google_compute_instance_group_manager as Record<string, any>).sort(([, a], [, b]) => (a.name.length - b.name.length) || a.name.localeCompare(b.name));
    expect(spares.map(([k, g]) => [k.replace(/_[0-9A-F]{8}$/, ''), g.name, g.zone])).toEqual([
      ['Fallback_SpareGroupA', 'llm-spare-a', 'us-central1-a'],
      ['Fallback_SpareGroupB', 'llm-spare-b', 'us-central1-b'],
      ['Fallback_SpareGroupC', 'llm-spare-c', 'us-central1-c'],
      ['Fallback_SpareGroup-europe-west4-A', 'llm-eu-spare-a', 'europe-west4-a'],
      ['Fallback_SpareGroup-europe-west4-B', 'llm-eu-spare-b', 'europe-west4-b'],
    ]);
    expect(spares[3][1].version[0].instance_template).toMatch(/google_compute_region_instance_template\.FleetEu_SpotTemplate_\w+\.self_link/);
    const env = (Object.values(out.resource.google_cloudfunctions2_function)[0] as any).service_config.environment_variables;
    const regions = JSON.parse(env.REGIONS.replace(/\$\{[^}]+\}/g, 'REF'));
    expect(regions[1].spareGroups).toEqual([{ name: 'llm-eu-spare-a', zone: 'europe-west4-a', maxSize: 1 }, { name: 'llm-eu-spare-b', zone: 'europe-west4-b', maxSize: 1 }]);
    expect(JSON.parse(env.SPARE_GROUPS).map((g: { name: string }) => g.name)).toEqual(['llm-spare-a', 'llm-spare-b', 'llm-spare-c']);
    const resize = Object.entries(out.resource.google_project_iam_member as Record<string, any>).find(([k]) => k.startsWith('Fallback_ResizeOnDemandGroup'))![1];
    expect(resize.condition.expression).toMatch(/resource\.name == "projects\/test-project\/zones\/europe-west4-b\/instanceGroupManagers\/\$\{google_compute_instance_group_manager\.Fallback_SpareGroup-europe-west4-B_\w+\.name\}"/);
    const backend = (Object.values(out.resource.google_compute_backend_service)[0] as any).backend;
    expect(backend.map((b: { capacity_scaler: number }) => b.capacity_scaler)).toEqual([1, 1, 1, 1, 1, 0.3, 0.3]);
  });

  test('additionalFleets in the same region are refused', () => {
    expect(() => Testing.synthScope((scope) => {
      const home = new GcpSpotFleet(scope, 'Fleet', fleetProps());
      const twin = new GcpSpotFleet(scope, 'Twin', fleetProps({ name: 'llm-twin' }));
      new GcpOnDemandFallback(scope, 'Fallback', { fleet: home, additionalFleets: [twin] });
    })).toThrow(/additionalFleets\[0\] \(fleet llm-twin\) is in region us-central1, which this controller already drives; list one fleet per other region/);
  });
});

describe('GcpOnDemandFallback: an imported fleet (fromInstanceGroupManagers)', () => {
  const ATTRS = { project: 'test-project', region: 'us-central1', fleetName: 'chat', spotGroupName: 'chat-spot', otherGroupNames: ['chat-std'], serviceAccountEmails: ['vm@test-project.iam.gserviceaccount.com'], artifactBucketName: 'chat-artifacts' };
  const CAPACITY = { onDemandGroupName: 'chat-std', onDemandBase: 1, maxCapacity: 6, machineType: 'g2-standard-8' };
  const build = (props: Record<string, unknown> = {}, attrs: Record<string, unknown> = {}) => JSON.parse(Testing.synthScope((scope) => {
    const fleet = GcpSpotFleet.fromInstanceGroupManagers(scope, 'Imported', { ...ATTRS, ...attrs });
    new GcpOnDemandFallback(scope, 'Fallback', { fleet, fleetCapacity: CAPACITY, ...props });
  }));
  const errorOf = (props: Record<string, unknown>, attrs: Record<string, unknown> = {}): FleetSpecError => {
    try {
      build(props, attrs);
    } catch (e) {
      return e as FleetSpecError;
    }
    throw new Error('expected a FleetSpecError');
  };

  test('the controller drives the imported groups: env from the attributes and fleetCapacity, IAM on their names, state in their bucket', () => {
    const out = build();
    const fn = Object.values(out.resource.google_cloudfunctions2_function)[0] as any;
    expect(fn.service_config.environment_variables).toMatchObject({
      FLEET_NAME: 'chat', SPOT_GROUP: 'chat-spot', ON_DEMAND_GROUP: 'chat-std', ON_DEMAND_BASE: '1', MAX_CAPACITY: '6', DEFAULT_MACHINE_TYPE: 'g2-standard-8',
      INSTANCE_NAME_PREFIX: 'chat-spot-', STATE_BUCKET: 'chat-artifacts',
    });
    expect(fn.build_config.source.storage_source.bucket).toBe('chat-artifacts');
    const members = Object.entries(out.resource.google_project_iam_member as Record<string, any>);
    expect(members.find(([k]) => k.startsWith('Fallback_ResizeOnDemandGroup'))![1].condition.expression).toBe('resource.name == "projects/test-project/regions/us-central1/instanceGroupManagers/chat-std"');
    expect(members.find(([k]) => k.startsWith('Fallback_ReadGroups'))![1].condition.expression).toBe('resource.name == "projects/test-project/regions/us-central1/instanceGroupManagers/chat-spot" || resource.name == "projects/test-project/regions/us-central1/instanceGroupManagers/chat-std"');
    // an imported fleet is taken as load-balanced: no spare groups without a backend service or a template
    expect(out.resource.google_compute_instance_group_manager).toBeUndefined();
  });

  test('spare groups for an imported fleet: its spot template and zones in fleetCapacity', () => {
    const out = build({ spareGroups: true, fleetCapacity: { ...CAPACITY, spotInstanceTemplate: 'projects/test-project/global/instanceTemplates/chat-spot-7', zones: ['us-central1-a', 'us-central1-b'] } });
    const spares = Object.values(out.resource.google_compute_instance_group_manager) as any[];
    expect(spares.map((g) => [g.name, g.zone, g.version[0].instance_template])).toEqual([
      ['chat-spare-a', 'us-central1-a', 'projects/test-project/global/instanceTemplates/chat-spot-7'],
      ['chat-spare-b', 'us-central1-b', 'projects/test-project/global/instanceTemplates/chat-spot-7'],
    ]);
  });

  test('an imported fleet in another region joins one controller with additionalFleetCapacities', () => {
    const out = JSON.parse(Testing.synthScope((scope) => {
      const home = new GcpSpotFleet(scope, 'Fleet', fleetProps());
      const eu = GcpSpotFleet.fromInstanceGroupManagers(scope, 'Eu', { ...ATTRS, region: 'europe-west4', fleetName: 'chat-eu', spotGroupName: 'chat-eu-spot', otherGroupNames: ['chat-eu-std'] });
      new GcpOnDemandFallback(scope, 'Fallback', { fleet: home, additionalFleets: [eu], additionalFleetCapacities: { 'europe-west4': { ...CAPACITY, onDemandGroupName: 'chat-eu-std', maxCapacity: 4 } }, spareGroups: false });
    }));
    const fn = Object.values(out.resource.google_cloudfunctions2_function)[0] as any;
    const regions = JSON.parse(fn.service_config.environment_variables.REGIONS);
    expect(regions[1]).toEqual({ region: 'europe-west4', spotGroup: 'chat-eu-spot', onDemandGroup: 'chat-eu-std', onDemandBase: 1, maxCapacity: 4, defaultMachineType: 'g2-standard-8' });
    const resize = Object.entries(out.resource.google_project_iam_member as Record<string, any>).find(([k]) => k.startsWith('Fallback_ResizeOnDemandGroup'))![1];
    expect(resize.condition.expression).toMatch(/ \|\| resource\.name == "projects\/test-project\/regions\/europe-west4\/instanceGroupManagers\/chat-eu-std"$/);
  });

  test('missing or bad fleetCapacity, no bucket, a spare template missing: refused with the prop and the fix', () => {
    expect(errorOf({ fleetCapacity: undefined }).message).toMatch(/fleetCapacity is not set, but fleet chat \(fleet\) is imported \(fromInstanceGroupManagers\), so the controller does not know its standard group and capacities; give \{onDemandGroupName, onDemandBase, maxCapacity, machineType\}/);
    const bad = errorOf({ fleetCapacity: { ...CAPACITY, onDemandBase: -1, maxCapacity: 1.5 } });
    expect(bad.message).toMatch(/fleetCapacity\.onDemandBase \(-1\) must be a whole number, 0 or more/);
    expect(bad.message).toMatch(/fleetCapacity\.maxCapacity \(1\.5\) must be a whole number, 0 or more/);
    expect(bad.problems.every((p) => p.code === FleetSpecErrorCode.FALLBACK_CAPACITY)).toBe(true);
    expect(errorOf({ fleetCapacity: { ...CAPACITY, onDemandBase: 7 } }).message).toMatch(/fleetCapacity\.onDemandBase \(7\) is above fleetCapacity\.maxCapacity \(6\)/);
    expect(errorOf({ fleetCapacity: { ...CAPACITY, onDemandGroupName: 'other' } }).message).toMatch(/fleetCapacity\.onDemandGroupName \("other"\) is not a group of fleet chat \(chat-spot, chat-std\); import the standard group with otherGroupNames/);
    expect(errorOf({ fleetCapacity: { ...CAPACITY, onDemandGroupName: 'chat-spot' } }).message).toMatch(/fleetCapacity\.onDemandGroupName \("chat-spot"\) is the spot group of fleet chat; name its standard \(on-demand\) group/);
    expect(errorOf({ fleetCapacity: { ...CAPACITY, maxCapacity: 1 } }).message).toMatch(/fleet chat has no spot share \(maxCapacity 1 = 1 standard VMs\)/);
    expect(errorOf({}, { artifactBucketName: undefined }).message).toMatch(/fleet chat has no artifact bucket for the controller's code and state; import it with artifactBucketName/);
    expect(errorOf({ spareGroups: true }).message).toMatch(/spareGroups is true but imported fleet chat has no fleetCapacity\.spotInstanceTemplate/);
    expect(() => Testing.synthScope((scope) => {
      const fleet = new GcpSpotFleet(scope, 'Fleet', fleetProps());
      const eu = GcpSpotFleet.fromInstanceGroupManagers(scope, 'Eu', { ...ATTRS, region: 'europe-west4', fleetName: 'chat-eu', spotGroupName: 'chat-eu-spot', otherGroupNames: ['chat-eu-std'] });
      new GcpOnDemandFallback(scope, 'Fallback', { fleet, additionalFleets: [eu], additionalFleetCapacities: { 'europe-west4': { ...CAPACITY, onDemandGroupName: 'chat-eu-std' } }, spareGroups: true });
    })).toThrow(/spareGroups is true but imported fleet chat-eu \(additionalFleets\[0\]\) has no additionalFleetCapacities\.europe-west4\.spotInstanceTemplate: the spare groups run the fleet's spot template; give its self link \(and its zones\) or leave spareGroups out/);
    expect(() => Testing.synthScope((scope) => {
      const fleet = new GcpSpotFleet(scope, 'Fleet', fleetProps());
      new GcpOnDemandFallback(scope, 'Fallback', { fleet, fleetCapacity: CAPACITY });
    })).toThrow(/fleetCapacity is set for fleet llm, which this package built and which knows its own groups and capacities; leave fleetCapacity out/);
    expect(() => Testing.synthScope((scope) => {
      const fleet = new GcpSpotFleet(scope, 'Fleet', fleetProps());
      new GcpOnDemandFallback(scope, 'Fallback', { fleet, additionalFleetCapacities: { 'europe-west4': CAPACITY } });
    })).toThrow(/additionalFleetCapacities\.europe-west4 names no imported fleet of additionalFleets/);
  });
});
