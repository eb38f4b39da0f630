// Unit tests: no cloud, no metadata service, no CloudFormation schema validation (npm run synth keeps it on).
process.env.CDK_VALIDATION = 'false';
process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_ACCESS_KEY_ID = 'AKIDTEST';
process.env.AWS_SECRET_ACCESS_KEY = 'test-secret';
process.env.AWS_REGION = process.env.AWS_REGION ?? 'us-east-1';
process.env.CDK_DISABLE_VERSION_CHECK = '1';
process.env.CHECKPOINT_DISABLE = '1';
