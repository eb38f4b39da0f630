import { Testing } from 'cdktf';
import { GcpInterruptionDrill, GcpSpotFleet } from '../../../constructs/gcp';
import { FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec/errors';
import { ensureBundles, fleetProps } from './helpers';

describe('Google Cloud interruption drill commands', () => {
  const target = { project: 'test-project', fleetName: 'llm' };

  test('lists running spot VMs of the fleet by label and provisioning model', () => {
    expect(GcpInterruptionDrill.listSpotVmsCommandFor(target)).toBe(
      'gcloud compute instances list --project=test-project --filter="labels.spot-fleet=llm AND scheduling.provisioningModel=SPOT AND status=RUNNING" --format="value(name,zone.basename())"',
    );
  });

  test('preempts one of them with simulate-maintenance-event', () => {
    expect(GcpInterruptionDrill.simulatePreemptionCommandFor(target)).toBe(
      'set -- $(gcloud compute instances list --project=test-project --filter="labels.spot-fleet=llm AND scheduling.provisioningModel=SPOT AND status=RUNNING" --format="value(name,zone.basename())" --limit=1)' +
        ' && gcloud compute instances simulate-maintenance-event "$1" --zone="$2" --project=test-project',
    );
  });

  test('the command runs in sh: name and zone are split into $1 and $2', () => {
    const { execFileSync } = require('node:child_process');
    // Replace gcloud by a stub that prints what the real list prints, and echoes the simulate call.
    const stub = 'gcloud() { if [ "$3" = "list" ]; then echo "llm-spot-abcd us-central1-b"; else echo "$@"; fi; }; ';
    const out = execFileSync('sh', ['-c', stub + GcpInterruptionDrill.simulatePreemptionCommandFor(target)], { encoding: 'utf8' });
    expect(out.trim()).toBe('compute instances simulate-maintenance-event llm-spot-abcd --zone=us-central1-b --project=test-project');
  });
});

describe('GcpInterruptionDrill', () => {
  test('Terraform outputs with both commands; no `${` that Terraform would interpolate', () => {
    const out = JSON.parse(Testing.synthScope((scope) => new GcpInterruptionDrill(scope, 'Drill', { project: 'test-project', fleetName: 'llm' }))).output;
    const values = Object.entries(out).map(([k, o]: [string, any]) => [k.replace(/_[A-F0-9]{8}$/, ''), o.value]);
    expect(values).toEqual([
      [expect.stringMatching(/ListSpotVms/), GcpInterruptionDrill.listSpotVmsCommandFor({ project: 'test-project', fleetName: 'llm' })],
      [expect.stringMatching(/SimulatePreemption/), GcpInterruptionDrill.simulatePreemptionCommandFor({ project: 'test-project', fleetName: 'llm' })],
    ]);
    expect(JSON.stringify(out)).not.toContain('${');
  });

  test('forFleet reads project and name from the fleet; outputs can be left out', () => {
    ensureBundles();
    let drill: GcpInterruptionDrill | undefined;
    const json = JSON.parse(Testing.synthScope((scope) => {
      const fleet = new GcpSpotFleet(scope, 'Fleet', fleetProps({ name: 'chat' }));
      drill = GcpInterruptionDrill.forFleet(scope, 'Drill', fleet, false);
    }));
    expect(json.output).toBeUndefined();
    expect(drill!.simulatePreemptionCommand).toContain('labels.spot-fleet=chat');
  });

  test.each([
    ['project', { project: 'Bad_Project', fleetName: 'llm' }, /project \("Bad_Project"\) must be a Google Cloud project id/],
    ['fleetName', { project: 'test-project', fleetName: 'Chat Fleet' }, /fleetName \("Chat Fleet"\) must be a label value/],
  ])('rejects a bad %s', (_p, props, message) => {
    let err: unknown;
    try {
      Testing.synthScope((scope) => new GcpInterruptionDrill(scope, 'Drill', props));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FleetSpecError);
    expect((err as FleetSpecError).family).toBe(FleetSpecErrorCode.CLOUD_CONSTRAINT);
    expect((err as Error).message).toMatch(message);
  });
});
