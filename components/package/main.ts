/**
 * The entry point of the `pulumi-resource-mailfleet` plugin (the executable beside package.json):
 * the engine starts it, and it serves MailFleetProvider over gRPC until the engine is done.
 */
// First, before anything that needs a newer Node: says which Node this needs on an older one.
import "../nodeVersion";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { MailFleetProvider } from "./provider";

const { version } = JSON.parse(readFileSync(join(__dirname, "../../package.json"), "utf8")) as { version: string };
void pulumi.provider.main(new MailFleetProvider(version), process.argv.slice(2));
