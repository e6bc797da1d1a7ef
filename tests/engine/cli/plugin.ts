/**
 * `pulumi plugin install/ls/rm` in the double. Plugins live where the CLI keeps them,
 * `$PULUMI_HOME/plugins/<kind>-<name>-v<version>/` (`sdk/go/common/workspace/plugins.go`). The
 * double cannot download anything: installing one of the clouds it simulates records the plugin
 * (the folder holds a note that the double simulates it); any other plugin fails as a download
 * from a closed network would, naming what could not be fetched.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { SIMULATED_PACKAGES } from "../../sim/providers";
import { pulumiHome } from "../workspace";
import { CliError } from "./context";
import type { Register } from "./main";

const KINDS = ["analyzer", "language", "resource", "converter", "tool"];
const MARKER = "simulated-by-the-pulumi-double";

function pluginsDir(env: NodeJS.ProcessEnv): string {
  return path.join(pulumiHome(env), "plugins");
}

export const register: Register = (program, ctx) => {
  const plugin = program
    .command("plugin")
    .description("manage language and resource provider plugins");
  plugin
    .command("install")
    .description("install one or more plugins")
    .argument("[kind]")
    .argument("[name]")
    .argument("[version]")
    .option("--server <url>", "a URL to download plugins from")
    .option("--exact", "force installation of an exact version match")
    .option("-f, --file <path>", "install a plugin from a binary, folder or tarball")
    .option("--reinstall", "reinstall a plugin even if it already exists")
    .option("--checksum <sha256>", "the expected SHA256 checksum")
    .action((kind?: string, name?: string, version?: string) => {
      const c = ctx();
      if (!kind)
        throw new CliError(
          "the double installs plugins by kind and name only (no project plugin list)",
        );
      if (!KINDS.includes(kind)) throw new CliError(`unrecognized plugin kind: ${kind}`);
      if (!name) throw new CliError("missing plugin name argument");
      const v = (version ?? "").replace(/^v/, "");
      if (version && !/^\d+\.\d+\.\d+([-+].*)?$/.test(v))
        throw new CliError(`invalid plugin semver: ${version}`);
      if (kind !== "resource" || !(SIMULATED_PACKAGES as readonly string[]).includes(name)) {
        throw new CliError(
          `[${kind} plugin ${name}${version ? `-${version}` : ""}] downloading: the pulumi double cannot download plugins (no network); it simulates only ${SIMULATED_PACKAGES.join(", ")}`,
        );
      }
      const dir = path.join(pluginsDir(c.env), `${kind}-${name}${v ? `-v${v}` : ""}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, MARKER), `${name} ${v}\n`);
      c.err(`[${kind} plugin ${name}${v ? `-${v}` : ""}] installing\n`);
    });
  plugin
    .command("ls")
    .alias("list")
    .description("list plugins")
    .option("-p, --project", "list only the plugins used by the current project")
    .option("-j, --json", "emit output as JSON")
    .action((o: { json?: boolean }) => {
      const c = ctx();
      const dir = pluginsDir(c.env);
      const entries = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
      const list = entries
        .map((e) => /^(analyzer|language|resource|converter|tool)-(.+?)(?:-v(\d[^/]*))?$/.exec(e))
        .filter((m): m is RegExpExecArray => !!m)
        .map((m) => {
          const stat = fs.statSync(path.join(dir, m[0]));
          // `plugin_list.go`, pluginInfoJSON.
          return {
            name: m[2],
            kind: m[1],
            version: m[3] ?? "",
            size: 0,
            installTime: stat.mtime.toISOString(),
            lastUsedTime: stat.mtime.toISOString(),
          };
        });
      if (o.json) c.out(`${JSON.stringify(list, null, 4)}\n`);
      else {
        c.out("NAME  KIND  VERSION  SIZE  INSTALLED  LAST USED\n");
        for (const p of list)
          c.out(`${p.name}  ${p.kind}  ${p.version}  0 B  ${p.installTime}  ${p.lastUsedTime}\n`);
      }
    });
  plugin
    .command("rm")
    .alias("remove")
    .description("remove one or more plugins from the download cache")
    .argument("[kind]")
    .argument("[name]")
    .argument("[version]")
    .option("-a, --all", "remove all plugins")
    .option("-y, --yes", "skip confirmation prompts")
    .action((kind?: string, name?: string, version?: string, o: { all?: boolean } = {}) => {
      const c = ctx();
      const dir = pluginsDir(c.env);
      if (!fs.existsSync(dir)) return;
      for (const e of fs.readdirSync(dir)) {
        const m = /^(\w+)-(.+?)(?:-v(\d[^/]*))?$/.exec(e);
        if (!m) continue;
        if (
          o.all ||
          ((!kind || m[1] === kind) &&
            (!name || m[2] === name) &&
            (!version || m[3] === version.replace(/^v/, "")))
        )
          fs.rmSync(path.join(dir, e), { recursive: true, force: true });
      }
    });
};
