/**
 * How each simulated provider plugin treats its credentials, the way the real provider does:
 * some refuse at `Configure` (the engine then reports "pulumi:providers:<pkg> resource '<name>'
 * has a problem: …"), others configure happily and every API call then fails with the cloud's
 * "unauthorized" answer. Only presence and shape are checked: no token is "valid" here.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { JsonObject } from "./cloud";
import { ProviderError, doError, hcloudError } from "./errors";

/** The outcome of checking one provider's credentials. */
export interface CredentialCheck {
  /** Configure fails with this message. */
  refuse?: string;
  /** Configure succeeds, and every cloud call fails with this error (the API's 401). */
  unauthorized?: (action: string) => ProviderError;
}

const AWS_REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function homeFile(env: NodeJS.ProcessEnv, rel: string): boolean {
  const home = env.HOME;
  return !!home && fs.existsSync(path.join(home, rel));
}

/**
 * Checks `pkg`'s credentials in its provider config (`config`, secrets already unwrapped) and
 * the plugin's environment, as the real provider reads them.
 */
export function checkCredentials(
  pkg: string,
  config: JsonObject,
  env: NodeJS.ProcessEnv,
): CredentialCheck {
  switch (pkg) {
    case "aws": {
      // pulumi-aws `preConfigureCallback` (pulumi/pulumi-aws#3310): the region first, then the
      // credential chain (static keys, profile, web identity, container credentials).
      const region = str(config.region) ?? str(env.AWS_REGION) ?? str(env.AWS_DEFAULT_REGION);
      if (!region)
        return {
          refuse:
            "missing region information\nMake sure you have set your AWS region, e.g. `pulumi config set aws:region us-west-2`.",
        };
      if (!AWS_REGION.test(region)) return { refuse: `invalid AWS Region: ${region}` };
      const keys =
        (str(config.accessKey) && str(config.secretKey)) ||
        (str(env.AWS_ACCESS_KEY_ID) && str(env.AWS_SECRET_ACCESS_KEY));
      const profile =
        (str(config.profile) ?? str(env.AWS_PROFILE)) &&
        (homeFile(env, ".aws/credentials") || homeFile(env, ".aws/config"));
      const other =
        str(env.AWS_WEB_IDENTITY_TOKEN_FILE) ||
        str(env.AWS_CONTAINER_CREDENTIALS_FULL_URI) ||
        str(env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI) ||
        homeFile(env, ".aws/credentials");
      if (!keys && !profile && !other)
        return {
          refuse:
            "No valid credential sources found.\nPlease see https://www.pulumi.com/registry/packages/aws/installation-configuration/ for more information about providing credentials.",
        };
      return {};
    }
    case "digitalocean": {
      // terraform-provider-digitalocean reads `token` (or DIGITALOCEAN_TOKEN /
      // DIGITALOCEAN_ACCESS_TOKEN) without checking it; the API answers 401 on the first call.
      const token =
        str(config.token) ?? str(env.DIGITALOCEAN_TOKEN) ?? str(env.DIGITALOCEAN_ACCESS_TOKEN);
      if (token) return {};
      return {
        unauthorized: (action) =>
          doError(action, "POST", "droplets", 401, "Unable to authenticate you"),
      };
    }
    case "hcloud": {
      // terraform-provider-hcloud refuses a token that is not 64 characters at configure time
      // (hetznercloud/terraform-provider-hcloud#70, #149); without one the API answers
      // "unable to authenticate your token" (hcloud-go `unauthorized`).
      const token = str(config.token) ?? str(env.HCLOUD_TOKEN);
      if (token === undefined)
        return {
          unauthorized: () => hcloudError("unable to authenticate your token", "unauthorized"),
        };
      if (token.length !== 64)
        return { refuse: "entered token is invalid (must be exactly 64 characters long)" };
      return {};
    }
    case "gcp": {
      // golang.org/x/oauth2/google `FindDefaultCredentials`.
      const found =
        str(config.credentials) ||
        str(config.accessToken) ||
        str(env.GOOGLE_APPLICATION_CREDENTIALS) ||
        str(env.GOOGLE_CREDENTIALS) ||
        str(env.GOOGLE_OAUTH_ACCESS_TOKEN) ||
        homeFile(env, ".config/gcloud/application_default_credentials.json");
      if (found) return {};
      return {
        refuse:
          "google: could not find default credentials. See https://cloud.google.com/docs/authentication/external/set-up-adc for more information",
      };
    }
    case "azure-native": {
      // azure-native: a service principal (client id + secret, tenant, subscription) or the
      // Azure CLI's token cache; otherwise it tries the `az` CLI, which is not installed here.
      const sp =
        (str(config.clientId) ?? str(env.ARM_CLIENT_ID)) &&
        (str(config.clientSecret) ?? str(env.ARM_CLIENT_SECRET));
      const cli =
        homeFile(env, ".azure/msal_token_cache.json") ||
        homeFile(env, ".azure/msal_token_cache.bin");
      if (sp || cli) return {};
      return {
        refuse:
          'building Azure credentials: please ensure you have installed Azure CLI version 2.0.79 or newer, or set ARM_CLIENT_ID, ARM_CLIENT_SECRET, ARM_TENANT_ID and ARM_SUBSCRIPTION_ID: launching Azure CLI: exec: "az": executable file not found in $PATH',
      };
    }
    default:
      return {};
  }
}
