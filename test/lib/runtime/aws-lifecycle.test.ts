import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { completeLifecycleAction } from '../../../lib/runtime/aws-lifecycle';

// The default path (no injected client): the SDK is loaded on first use and sends the real Query API call,
// here to an Auto Scaling endpoint on 127.0.0.1 (AWS_ENDPOINT_URL_AUTO_SCALING), with the fake test credentials.
test('without a client, loads the SDK and POSTs CompleteLifecycleAction (CONTINUE), signed; an inactive action is success', async () => {
  const bodies: string[] = [];
  let reply = '<CompleteLifecycleActionResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><CompleteLifecycleActionResult/><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></CompleteLifecycleActionResponse>';
  let status = 200;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bodies.push(`${req.headers.authorization?.slice(0, 16)} ${body}`);
      res.writeHead(status, { 'Content-Type': 'text/xml' });
      res.end(reply);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const before = process.env.AWS_ENDPOINT_URL_AUTO_SCALING;
  process.env.AWS_ENDPOINT_URL_AUTO_SCALING = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const params = { autoScalingGroupName: 'fleet', lifecycleHookName: 'drain', instanceId: 'i-0abc', region: 'eu-west-1' };
    expect(await completeLifecycleAction(params)).toBe('completed');
    const sent = new URLSearchParams(bodies[0].split(' ')[1]);
    expect(bodies[0].startsWith('AWS4-HMAC-SHA256')).toBe(true);
    expect(Object.fromEntries(sent)).toEqual({
      Action: 'CompleteLifecycleAction',
      Version: '2011-01-01',
      AutoScalingGroupName: 'fleet',
      LifecycleHookName: 'drain',
      InstanceId: 'i-0abc',
      LifecycleActionResult: 'CONTINUE',
    });
    status = 400;
    reply = '<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>No active Lifecycle Action found with instance ID i-0abc</Message></Error><RequestId>2</RequestId></ErrorResponse>';
    expect(await completeLifecycleAction(params)).toBe('no-active-action');
    reply = '<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Group fleet not found</Message></Error><RequestId>3</RequestId></ErrorResponse>';
    await expect(completeLifecycleAction(params)).rejects.toThrow('Group fleet not found');
  } finally {
    if (before === undefined) delete process.env.AWS_ENDPOINT_URL_AUTO_SCALING;
    else process.env.AWS_ENDPOINT_URL_AUTO_SCALING = before;
    server.close();
  }
});
