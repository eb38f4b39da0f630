import 'cdktf/lib/testing/adapters/jest';
import { Testing } from 'cdktf';
import { LoggingMetric } from '@cdktf/provider-google/lib/logging-metric';
import { MonitoringAlertPolicy } from '@cdktf/provider-google/lib/monitoring-alert-policy';
import { MonitoringMetricDescriptor } from '@cdktf/provider-google/lib/monitoring-metric-descriptor';
import {
  FALLBACK_REPLICAS_METRIC_TYPE,
  GcpFleetAlerts,
  GcpFleetAlertsProps,
  GcpSpotInferenceService,
  PREEMPTION_METRIC_TYPE,
} from '../../../constructs/gcp';
import { FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec/errors';
import { ensureBundles, fleetProps, ofType, synth } from './helpers';

Testing.setupJest();

const BASE: GcpFleetAlertsProps = {
  project: 'test-project',
  fleetName: 'llm',
  instanceGroupNames: ['llm-spot', 'llm-od'],
  backendServiceName: 'llm-backend',
};

function policyNamed(resources: Record<string, Record<string, any>>, part: string): any {
  const hits = ofType(resources, 'google_monitoring_alert_policy').filter((p) => p.display_name.includes(part));
  expect(hits).toHaveLength(1);
  return hits[0];
}

describe('GcpFleetAlerts', () => {
  const { json, resources } = synth((scope) => new GcpFleetAlerts(scope, 'Alerts', { ...BASE, notificationChannels: ['projects/test-project/notificationChannels/42'] }));

  test('no healthy backend: a log-based metric on failed_to_pick_backend of the backend service', () => {
    expect(json).toHaveResourceWithProperties(LoggingMetric, {
      project: 'test-project',
      name: 'llm-no-healthy-backend',
      filter: 'resource.type="http_load_balancer" AND resource.labels.backend_service_name="llm-backend" AND jsonPayload.statusDetails="failed_to_pick_backend"',
      metric_descriptor: { metric_kind: 'DELTA', value_type: 'INT64', unit: '1' },
    });
    const p = policyNamed(resources, 'no healthy backend');
    expect(p.conditions[0].condition_threshold).toEqual({
      filter: expect.stringMatching(/^metric\.type="logging\.googleapis\.com\/user\/\$\{google_logging_metric\.\w+\.name\}"$/),
      comparison: 'COMPARISON_GT',
      threshold_value: 0,
      duration: '60s',
      aggregations: [{ alignment_period: '60s', per_series_aligner: 'ALIGN_SUM', cross_series_reducer: 'REDUCE_SUM' }],
    });
  });

  test('serving VMs: instance_group/size of the fleet groups below 1 for 5 minutes', () => {
    const p = policyNamed(resources, 'serving VM');
    expect(p.display_name).toBe('llm: fewer than 1 serving VM(s)');
    expect(p.conditions[0].condition_threshold).toMatchObject({
      filter: 'metric.type="compute.googleapis.com/instance_group/size" AND resource.type="instance_group" AND resource.label.instance_group_name=one_of("llm-spot", "llm-od")',
      comparison: 'COMPARISON_LT',
      threshold_value: 1,
      duration: '300s',
      evaluation_missing_data: 'EVALUATION_MISSING_DATA_ACTIVE',
    });
  });

  test('preemptions: the preemption hook metric of this fleet, more than 3 in an hour', () => {
    const p = policyNamed(resources, 'preemptions per hour');
    expect(p.conditions[0].condition_threshold).toEqual({
      filter: `metric.type="${PREEMPTION_METRIC_TYPE}" AND resource.type="global" AND metric.label.fleet="llm"`,
      comparison: 'COMPARISON_GT',
      threshold_value: 3,
      duration: '0s',
      aggregations: [{ alignment_period: '3600s', per_series_aligner: 'ALIGN_SUM', cross_series_reducer: 'REDUCE_SUM' }],
    });
    expect(PREEMPTION_METRIC_TYPE).toBe('custom.googleapis.com/spot_inference/preemptions');
  });

  test('fallback active: fallback_replicas above 0 for 6 hours', () => {
    const p = policyNamed(resources, 'fallback active');
    expect(p.conditions[0].condition_threshold).toMatchObject({
      filter: 'metric.type="custom.googleapis.com/spot_inference/fallback_replicas" AND resource.type="global" AND metric.label.fleet="llm"',
      comparison: 'COMPARISON_GT',
      threshold_value: 0,
      duration: '21600s',
      aggregations: [{ alignment_period: '300s', per_series_aligner: 'ALIGN_MIN', cross_series_reducer: 'REDUCE_SUM' }],
    });
  });

  test('custom metrics are declared and the policies depend on them', () => {
    expect(json).toHaveResourceWithProperties(MonitoringMetricDescriptor, {
      type: PREEMPTION_METRIC_TYPE, metric_kind: 'GAUGE', value_type: 'INT64',
      labels: [{ key: 'fleet', value_type: 'STRING' }, { key: 'zone', value_type: 'STRING' }, { key: 'instance', value_type: 'STRING' }],
    });
    expect(json).toHaveResourceWithProperties(MonitoringMetricDescriptor, { type: FALLBACK_REPLICAS_METRIC_TYPE, metric_kind: 'GAUGE', value_type: 'INT64', labels: [{ key: 'fleet', value_type: 'STRING' }] });
    expect(policyNamed(resources, 'preemptions').depends_on).toEqual([expect.stringMatching(/^google_monitoring_metric_descriptor\.\w*PreemptionMetricDescriptor/)]);
    expect(policyNamed(resources, 'fallback active').depends_on).toEqual([expect.stringMatching(/^google_monitoring_metric_descriptor\.\w*FallbackMetricDescriptor/)]);
  });

  test('every policy notifies the channels, is labelled with the fleet and documented', () => {
    const policies = ofType(resources, 'google_monitoring_alert_policy');
    expect(policies).toHaveLength(4);
    for (const p of policies) {
      expect(p).toMatchObject({
        project: 'test-project',
        combiner: 'OR',
        notification_channels: ['projects/test-project/notificationChannels/42'],
        user_labels: { 'spot-fleet': 'llm' },
        documentation: { mime_type: 'text/markdown', content: expect.stringContaining('**llm**') },
      });
    }
    expect(json).toHaveResourceWithProperties(MonitoringAlertPolicy, { display_name: 'llm: fallback active for 6 h' });
  });
});

describe('GcpFleetAlerts options', () => {
  test('thresholds; no backend service means no load balancer alert; descriptors can be left out', () => {
    const { resources } = synth((scope) => new GcpFleetAlerts(scope, 'Alerts', {
      ...BASE, backendServiceName: undefined, minServingInstances: 2, maxPreemptionsPerHour: 0, fallbackActiveAlertAfterHours: 2, createMetricDescriptors: false,
    }));
    expect(ofType(resources, 'google_logging_metric')).toHaveLength(0);
    expect(ofType(resources, 'google_monitoring_metric_descriptor')).toHaveLength(0);
    expect(ofType(resources, 'google_monitoring_alert_policy')).toHaveLength(3);
    expect(policyNamed(resources, 'serving VM').conditions[0].condition_threshold.threshold_value).toBe(2);
    expect(policyNamed(resources, 'preemptions').conditions[0].condition_threshold.threshold_value).toBe(0);
    expect(policyNamed(resources, 'fallback active').conditions[0].condition_threshold.duration).toBe('7200s');
    expect(policyNamed(resources, 'fallback active').depends_on).toBeUndefined();
    expect(policyNamed(resources, 'fallback active').notification_channels).toBeUndefined();
  });

  test('metricFleetNames: the preemption and fallback policies watch every named fleet\'s label (one fleet: an equality)', () => {
    const { resources } = synth((scope) => new GcpFleetAlerts(scope, 'Alerts', { ...BASE, metricFleetNames: ['llm-usce1', 'llm-euwe4'] }));
    expect(policyNamed(resources, 'preemptions').conditions[0].condition_threshold.filter).toMatch(/ AND metric\.label\.fleet=one_of\("llm-usce1", "llm-euwe4"\)$/);
    expect(policyNamed(resources, 'fallback active').conditions[0].condition_threshold.filter).toMatch(/ AND metric\.label\.fleet=one_of\("llm-usce1", "llm-euwe4"\)$/);
    const one = synth((scope) => new GcpFleetAlerts(scope, 'Alerts', BASE)).resources;
    expect(policyNamed(one, 'preemptions').conditions[0].condition_threshold.filter).toMatch(/ AND metric\.label\.fleet="llm"$/);
  });

  test('forService takes the groups and the backend service of a GcpSpotInferenceService', () => {
    ensureBundles();
    const { resources } = synth((scope) => {
      const svc = new GcpSpotInferenceService(scope, 'Svc', { ...fleetProps(), name: 'llm', alerts: false });
      GcpFleetAlerts.forService(scope, 'Alerts', svc);
    });
    expect(policyNamed(resources, 'serving VM').conditions[0].condition_threshold.filter).toMatch(
      /one_of\("\$\{google_compute_region_instance_group_manager\.\w+\.name\}", "\$\{google_compute_region_instance_group_manager\.\w+\.name\}"\)$/,
    );
    expect(ofType(resources, 'google_logging_metric')[0].filter).toMatch(/backend_service_name="\$\{google_compute_backend_service\.\w+\.name\}"/);
  });
});

describe('GcpFleetAlerts validation', () => {
  test.each<[string, Partial<GcpFleetAlertsProps>, RegExp]>([
    ['min serving 0', { minServingInstances: 0 }, /minServingInstances \(0\) must be a whole number, 1 or more: the alert opens below it; use 1/],
    ['negative preemptions', { maxPreemptionsPerHour: -1 }, /maxPreemptionsPerHour \(-1\) must be a whole number, 0 or more/],
    ['fallback 25 h', { fallbackActiveAlertAfterHours: 25 }, /fallbackActiveAlertAfterHours \(25\) must be a whole number of hours from 1 to 24; use e.g. 6/],
    ['no groups', { instanceGroupNames: [] }, /instanceGroupNames is empty; give the names of the fleet's spot and on-demand managed instance groups/],
    ['bad fleet name', { fleetName: 'LLM_fleet' }, /fleetName \("LLM_fleet"\) must be a Google Cloud resource name/],
    ['no metric fleet names', { metricFleetNames: [] }, /metricFleetNames is empty; give the fleet label values the preemption and fallback metrics carry \(the fleets' names\), or leave it out for \[fleetName\]/],
  ])('%s', (_name, extra, message) => {
    let err: unknown;
    try {
      synth((scope) => new GcpFleetAlerts(scope, 'Alerts', { ...BASE, ...extra }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FleetSpecError);
    expect((err as FleetSpecError).family).toBe(FleetSpecErrorCode.CLOUD_CONSTRAINT);
    expect((err as Error).message).toMatch(message);
  });
});

describe('The Google Cloud example stack: GcpSpotInferenceService brings the alerts and the drill', () => {
  test('synthesizes: 4 policies, 1 log-based metric, 2 descriptors, the drill outputs next to the service outputs', () => {
    ensureBundles();
    const { GcpSpotInferenceStack } = require('../../../examples/gcp/stack');
    const stack = new GcpSpotInferenceStack(Testing.app(), 'spot-inference-gcp', { project: 'p1', region: 'europe-west4' });
    const json = JSON.parse(Testing.synth(stack));
    expect(Object.keys(json.resource.google_monitoring_alert_policy)).toHaveLength(4);
    expect(Object.keys(json.resource.google_logging_metric)).toHaveLength(1);
    expect(Object.keys(json.resource.google_monitoring_metric_descriptor)).toHaveLength(2);
    const outputs = Object.keys(json.output);
    expect(outputs).toEqual(expect.arrayContaining([expect.stringMatching(/SimulatePreemption/), expect.stringMatching(/ListSpotVms/), expect.stringMatching(/LoadBalancerIp/)]));
    expect(Object.entries(json.output).find(([k]) => /SimulatePreemption/.test(k))![1]).toMatchObject({ value: expect.stringContaining('--project=p1') });
  });
});
