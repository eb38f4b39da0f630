// The `spot-agent` command for Google Cloud and Azure instances: the same agent as spot-agent.entry.ts, bundled
// without the AWS SDK (`// esbuild-external` below), which only the AWS lifecycle completion loads, and only
// on AWS. A quarter of the size, so Azure can inline it in custom data (64 KB limit) and it starts leaner.
// esbuild-external: @aws-sdk/client-auto-scaling
import './spot-agent.entry';
