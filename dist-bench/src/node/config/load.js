"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.ConfigError = void 0;
exports.formatIssue = formatIssue;
exports.parseConfig = parseConfig;
exports.loadConfigFile = loadConfigFile;
exports.parseYaml = parseYaml;
exports.formatPath = formatPath;
/**
 * Turns YAML text or a plain object into a validated ClusterConfig, or one ConfnodeError('config')
 * listing every problem with its key path (and the line, for YAML syntax errors). Never returns
 * a partly valid config and never reads anything but the one file it is given.
 */
const node_fs_1 = require("node:fs");
const yaml_1 = require("yaml");
const common_1 = require("../../common");
const schema_1 = require("./schema");
/** A config error that also keeps the problems apart, for tests and tools. */
class ConfigError extends common_1.ConfnodeError {
    issues;
    constructor(issues, options) {
        super('config', issues.map(formatIssue).join('\n'), options);
        this.issues = issues;
    }
}
exports.ConfigError = ConfigError;
function formatIssue(issue) {
    return issue.path === '' ? `config error: ${issue.message}` : `config error: ${issue.path}: ${issue.message}`;
}
/** Validates an already parsed document (from YAML, JSON or code) and applies the defaults. */
function parseConfig(input) {
    const result = schema_1.ConfigSchema.safeParse(input);
    if (result.success)
        return result.data;
    throw new ConfigError(result.error.issues.flatMap(toConfigIssues));
}
/** Reads and validates one YAML file. */
function loadConfigFile(path) {
    let text;
    try {
        text = (0, node_fs_1.readFileSync)(path, 'utf8');
    }
    catch (err) {
        const code = err.code;
        const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (0, common_1.errorMessage)(err);
        throw new ConfigError([{ path: '', message: `cannot read config file '${path}': ${why}` }], { cause: err });
    }
    const doc = parseYaml(text, path);
    if (doc === null || doc === undefined) {
        throw new ConfigError([{ path: '', message: `config file '${path}' is empty` }]);
    }
    return parseConfig(doc);
}
/** YAML to a plain value; syntax errors (and duplicate keys) name the file, line and column. */
function parseYaml(text, fileName = '<config>') {
    const doc = (0, yaml_1.parseDocument)(text, { prettyErrors: true, uniqueKeys: true });
    if (doc.errors.length > 0) {
        throw new ConfigError(doc.errors.map((e) => {
            const pos = e.linePos?.[0];
            const where = pos ? `${fileName} line ${pos.line}, column ${pos.col}` : fileName;
            const firstLine = e.message.split('\n')[0] ?? e.message;
            return { path: '', message: `YAML syntax error in ${where}: ${firstLine.replace(/ at line \d+, column \d+:?$/, '')}` };
        }));
    }
    return doc.toJS({ maxAliasCount: 100 });
}
/** `['nodes', 0, 'sip_port']` -> `nodes[0].sip_port`; odd keys are quoted so they stay readable. */
function formatPath(path) {
    let out = '';
    for (const part of path) {
        if (typeof part === 'number')
            out += `[${part}]`;
        else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(part))
            out += out === '' ? part : `.${part}`;
        else
            out += `[${JSON.stringify(part)}]`;
    }
    return out;
}
function toConfigIssues(issue) {
    if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((key) => ({
            path: formatPath([...issue.path, key]),
            message: /[A-Z-]/.test(key) ? 'unknown key (keys are snake_case)' : 'unknown key',
        }));
    }
    if (issue.code === 'invalid_union') {
        // Report the branch the input was evidently meant for (an object with a typo inside), not
        // "invalid input" for every branch.
        const depth = issue.path.length;
        const meant = issue.unionErrors.filter((e) => !e.issues.every((i) => i.path.length === depth && isTypeMismatch(i)));
        if (meant.length === 1 && meant[0])
            return meant[0].issues.flatMap(toConfigIssues);
    }
    if (issue.code === 'invalid_type' && issue.received === 'undefined') {
        return [{ path: formatPath(issue.path), message: `required key missing (expected ${issue.expected})` }];
    }
    return [{ path: formatPath(issue.path), message: issue.message }];
}
function isTypeMismatch(issue) {
    return issue.code === 'invalid_type' || issue.code === 'invalid_literal';
}
//# sourceMappingURL=load.js.map