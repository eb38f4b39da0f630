import { Cloud } from '../../../lib/spec';
import { AwsInterruptionWatcher } from '../../../lib/runtime/aws-watcher';
import { AzureInterruptionWatcher } from '../../../lib/runtime/azure-watcher';
import { InterruptionEvent, InterruptionKind } from '../../../lib/runtime/events';
import { GcpInterruptionWatcher } from '../../../lib/runtime/gcp-watcher';
import { createWatcher, waitForInterruption, watchInterruptions } from '../../../lib/runtime/watch';
import { AwsImdsEmulator } from './support/metadata-emulators';

test('createWatcher picks the cloud\'s watcher and refuses an unknown cloud', () => {
  expect(createWatcher({ cloud: Cloud.AWS })).toBeInstanceOf(AwsInterruptionWatcher);
  expect(createWatcher({ cloud: Cloud.GCP })).toBeInstanceOf(GcpInterruptionWatcher);
  expect(createWatcher({ cloud: Cloud.AZURE })).toBeInstanceOf(AzureInterruptionWatcher);
  expect(() => createWatcher({ cloud: 'ibm' as Cloud })).toThrow("unknown cloud 'ibm': use aws, gcp or azure");
});

test('watchInterruptions yields every notice, advisory ones included, and ends when the signal aborts', async () => {
  const imds = await new AwsImdsEmulator().start();
  try {
    const controller = new AbortController();
    const seen: InterruptionEvent[] = [];
    imds.rebalance = { noticeTime: new Date().toISOString() };
    setTimeout(() => imds.interrupt(60_000), 150);
    for await (const e of watchInterruptions({ cloud: Cloud.AWS, metadataEndpoint: imds.url, pollIntervalSeconds: 0.05, signal: controller.signal })) {
      seen.push(e);
      if (seen.length === 2) setTimeout(() => controller.abort(), 100);
    }
    expect(seen.map((e) => e.kind)).toEqual([InterruptionKind.REBALANCE_RECOMMENDATION, InterruptionKind.SPOT_INTERRUPTION]);
  } finally {
    await imds.stop();
  }
});

test('waitForInterruption skips advisory notices; breaking out stops the polling', async () => {
  const imds = await new AwsImdsEmulator().start();
  try {
    imds.rebalance = { noticeTime: new Date().toISOString() };
    setTimeout(() => imds.interrupt(60_000), 200);
    const e = await waitForInterruption({ cloud: Cloud.AWS, metadataEndpoint: imds.url, pollIntervalSeconds: 0.05 });
    expect(e?.kind).toBe(InterruptionKind.SPOT_INTERRUPTION);
    const count = imds.requests.length;
    await new Promise((r) => setTimeout(r, 200));
    expect(imds.requests.length).toBe(count);
    const aborted = new AbortController();
    aborted.abort();
    expect(await waitForInterruption({ cloud: Cloud.AWS, metadataEndpoint: imds.url, signal: aborted.signal })).toBeUndefined();
  } finally {
    await imds.stop();
  }
});
