/**
 * Resource options are not visible to mocks, but old-style stack transformations run under
 * mocks and see them. `recordOptions()` registers one (call it inside the program) that keeps
 * what tests need and changes nothing.
 */
import * as pulumi from "@pulumi/pulumi";

/** The options one resource was declared with, as far as tests look at them. */
export interface RecordedOptions {
  type: string;
  name: string;
  /** The parent's type, or undefined for a resource parented to the stack. */
  parentType?: string;
  /** The parent's name. */
  parentName?: string;
  ignoreChanges?: string[];
  /** The names of the resources it was declared to depend on (plain `dependsOn` lists only). */
  dependsOn?: string[];
}

/** Registers a stack transformation that records every resource's options into `into`. */
export function recordOptions(into: RecordedOptions[]): void {
  pulumi.runtime.registerStackTransformation((args) => {
    const parent = args.opts.parent as
      | (pulumi.Resource & { __pulumiType?: string; __name?: string })
      | undefined;
    into.push({
      type: args.type,
      name: args.name,
      parentType: parent?.__pulumiType,
      parentName: parent?.__name,
      ignoreChanges: args.opts.ignoreChanges,
      dependsOn: Array.isArray(args.opts.dependsOn)
        ? (args.opts.dependsOn as (pulumi.Resource & { __name?: string })[]).map(
            (d) => d.__name ?? "?",
          )
        : undefined,
    });
    return undefined;
  });
}
