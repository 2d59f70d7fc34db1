import { RemovalPolicy } from 'aws-cdk-lib';

/**
 * The removal policy of everything the stack keeps when it is deleted or a resource replaced (CloudFormation's
 * `RetainExceptOnCreate`): kept then, but deleted when the stack's first create rolls back. A resource created in
 * that failed attempt holds nothing yet and, left behind, makes the retry fail (a secret's fixed name "already
 * exists", a table nobody owns). Every retained resource of the stack uses it; an infrastructure test holds them to it.
 */
export const RETAINED = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE;
