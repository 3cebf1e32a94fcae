export { ConfigError, ConfigProblem } from "./errors";
export { CONFIG_NAMESPACE, REDACTED_SECRET } from "./formats";
export { parseFleetConfig, ParseOptions, SPF_LOOKUP_LIMIT } from "./parse";
export * from "./spec";
export { readStackConfig, readStackSpec, stackFilePath, StackFileOptions } from "./stackFile";
