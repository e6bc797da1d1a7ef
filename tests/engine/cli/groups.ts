/**
 * The command groups of the state side of the double (backend, config, stacks, accounts), added
 * to the program by `main.ts` in one `addGroups(...stateGroups)` call.
 */
import type { Register } from "./main";
import { register as account } from "./account";
import { register as config } from "./config";
import { register as stack } from "./stack";

/** `config`, `stack`, `login`/`logout`/`whoami`/`cancel`. */
export const stateGroups: Register[] = [config, stack, account];
