/**
 * An AWS SDK for JavaScript v3 client, as far as this package uses one: `send(command, options)`. Public option
 * types take it instead of the SDK's client classes, so that the package's declarations need no `@aws-sdk` package
 * installed (the clients are optional peers; `skipLibCheck: false` consumers without them still type-check).
 * Pass the real client: `new SQSClient({})`, `new S3Client({})`, `new AutoScalingClient({})`.
 */
export interface AwsSdkClient {
  /** The client's `send`. */
  send(command: object, options?: object): Promise<unknown>;
}
