import 'cdktf/lib/testing/adapters/jest';
import { Testing } from 'cdktf';
import { Cloudfunctions2Function } from '@cdktf/provider-google/lib/cloudfunctions2-function';
import { ComputeBackendService } from '@cdktf/provider-google/lib/compute-backend-service';
import { ComputeRegionInstanceGroupManager } from '@cdktf/provider-google/lib/compute-region-instance-group-manager';
import { GcpSpotInferenceService } from '../../../constructs/gcp';
import { ensureBundles, fleetProps, synth } from './helpers';

Testing.setupJest();
beforeAll(ensureBundles);

describe('GcpSpotInferenceService', () => {
  test('composes fleet, load balancer and preemption hook, with outputs', () => {
    let svc: GcpSpotInferenceService | undefined;
    const { json } = synth((scope) => {
      svc = new GcpSpotInferenceService(scope, 'llm', { ...fleetProps(), name: undefined, requestTimeoutSeconds: 60, functionMaxInstances: 2 });
    });
    expect(svc!.fleet.fleetName).toBe('llm');
    expect(json).toHaveResourceWithProperties(ComputeRegionInstanceGroupManager, { name: 'llm-spot' });
    expect(json).toHaveResourceWithProperties(ComputeRegionInstanceGroupManager, { name: 'llm-od' });
    expect(json).toHaveResourceWithProperties(ComputeBackendService, { name: 'llm-backend', timeout_sec: 60 });
    expect(json).toHaveResourceWithProperties(Cloudfunctions2Function, { service_config: expect.objectContaining({ max_instance_count: 2 }) });
    const outputs = JSON.parse(json).output;
    expect(Object.keys(outputs).sort()).toEqual([
      expect.stringMatching(/Drill_ListSpotVms/), expect.stringMatching(/Drill_SimulatePreemption/),
      expect.stringMatching(/LoadBalancerIp/), expect.stringMatching(/OnDemandGroup/), expect.stringMatching(/SpotGroup/),
    ]);
    expect(Object.values(outputs).map((o: any) => o.value)).toContainEqual(expect.stringMatching(/google_compute_global_address\.\w+\.address\}$/));
  });

  test('attaches the on-demand fallback controller (triggered by the preemption topic too), the alerts and the drill', () => {
    let svc: GcpSpotInferenceService | undefined;
    const { json } = synth((scope) => {
      svc = new GcpSpotInferenceService(scope, 'llm', { ...fleetProps(), name: undefined });
    });
    expect(svc!.onDemandFallback).toBeDefined();
    expect(svc!.alerts).toBeDefined();
    expect(svc!.interruptionDrill).toBeDefined();
    const resources = JSON.parse(json).resource;
    // two Cloud Functions: the preemption hook and the fallback controller
    expect(Object.keys(resources.google_cloudfunctions2_function)).toHaveLength(2);
    // the preemption hook's topic is a second trigger of the controller
    const triggers = Object.entries(resources.google_eventarc_trigger ?? {}).filter(([k]) => /OnDemandFallback/.test(k));
    expect(triggers).toHaveLength(1);
    expect(JSON.stringify(triggers[0][1])).toMatch(/google_pubsub_topic\.llm_PreemptionHook_\w+\.id/);
    expect(Object.keys(resources.google_monitoring_alert_policy)).toHaveLength(4);
  });

  test('fallback and alerts can be left out', () => {
    const { json } = synth((scope) => new GcpSpotInferenceService(scope, 'Svc', { ...fleetProps(), name: 'svc', onDemandFallback: false, alerts: false }));
    const resources = JSON.parse(json).resource;
    expect(Object.keys(resources.google_cloudfunctions2_function)).toHaveLength(1);
    expect(resources.google_monitoring_alert_policy).toBeUndefined();
  });

  test('outputs can be turned off', () => {
    const { json } = synth((scope) => new GcpSpotInferenceService(scope, 'Svc', { ...fleetProps(), name: 'svc', outputs: false }));
    expect(JSON.parse(json).output).toBeUndefined();
  });
});
