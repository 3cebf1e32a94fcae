export { ConfigError, ConfigProblem, configProblem, firstPerPath } from "./errors";
export { CONFIG_NAMESPACE, REDACTED_SECRET } from "./formats";
export { checkFleetConfig, ConfigCheck, parseFleetConfig, ParseOptions } from "./parse";
export { BACKUP_INTERVALS, SNAPSHOT_INTERVALS } from "./schema";
export * from "./spec";
export { SPF_LOOKUP_LIMIT, spfIncludes, spfLookups, spfNamesEdgesByMx } from "./spf";
export { readStackConfig, stackFilePath, StackFileOptions } from "./stackFile";
