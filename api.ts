/**
 * fleet as a library, for scripts: CloudContext and the types and errors it speaks.
 * (`index.ts` is the Pulumi program's entry point; this is the one for people's code.)
 */
export {
  CloudContext,
  type CloudContextOptions,
  type CreateOptions,
  type RetryOptions,
  NoSuchStackError,
  WorkerExistsError,
  WorkerNotFoundError,
  WorkersFailedError,
} from "./context/cloud-context";
export { PulumiCliMissingError } from "./context/automation";
export { CancelledError, StackBusyError, type FleetStack } from "./context/stack";
export { LockTimeoutError } from "./context/lock";
export { FleetConfigError } from "./config/errors";
export { MissingCredentialsError } from "./config/credentials";
export type { WorkerOverrides, WorkerEntry } from "./config/fleet-config";
export type { CloudName } from "./strategies/registry";
export type { Worker } from "./strategies/contract";
export type { Progress } from "./context/events";
export {
  type Candidate,
  type CurrencyTotal,
  type FleetCost,
  type Price,
  type PriceBook,
  currencyOf,
  fleetCost,
  loadPriceBook,
  orderByPrice,
  priceOf,
} from "./config/prices";
export { parseTtl } from "./config/expiry";
