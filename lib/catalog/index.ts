export * from './prices';
export * from './aws';
export * from './aws-instance-types';
