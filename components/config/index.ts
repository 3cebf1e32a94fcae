export { ConfigError, ConfigProblem } from "./errors";
export { REDACTED_SECRET } from "./formats";
export { parseFleetConfig, SPF_LOOKUP_LIMIT } from "./parse";
export * from "./spec";
export { readStackConfig, stackFilePath, CONFIG_NAMESPACE } from "./stackFile";
