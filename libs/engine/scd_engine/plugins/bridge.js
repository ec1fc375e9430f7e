// scd's Node bridge: runs one serverless-cd plugin phase (run or postRun) and exits.
//
// Contract: reads one JSON request from stdin: {module, phase, inputs, context}.
// Requires `module` (an absolute path), calls module[phase](inputs, context, logger)
// (or the default export's), and writes newline-delimited JSON messages to the file
// descriptor named by SCD_BRIDGE_FD (removed from the environment the plugin sees):
//   {"t": "log", "text": "..."}                   a logger line
//   {"t": "result", "outputs": {...}, "postRun": bool}
//   {"t": "error", "message": "..."}             the step fails with this message
// The plugin's own stdout and stderr stay plain text: the caller logs them as they come.
// Exit code 0 after a result, 1 after an error.
'use strict';

const fs = require('fs');
const util = require('util');

const channel = Number(process.env.SCD_BRIDGE_FD);
delete process.env.SCD_BRIDGE_FD;

// scd resolves a step's inputs once, with its own expressions. @serverless-cd/core's
// getInputs would render the results again as art-template (JavaScript), so event text
// holding {{ }} or <% %> (a commit message, a branch name) would run as code: every copy
// of core loaded by a plugin gets a getInputs that returns the inputs as resolved.
const Module = require('module');
const GET_INPUTS = /[\\/]@serverless-cd[\\/]core[\\/]lib[\\/]get-inputs\.js$/;
const load = Module._load;
Module._load = function scdLoad(request, parent, isMain) {
  const loaded = load.apply(this, arguments);
  if (loaded && typeof loaded.default === 'function' && request.endsWith('get-inputs')) {
    let file = '';
    try {
      file = Module._resolveFilename(request, parent, isMain);
    } catch (err) {
      return loaded;
    }
    if (GET_INPUTS.test(file)) loaded.default = resolvedInputs;
  }
  return loaded;
};

function resolvedInputs(inputs) {
  if (inputs === null || inputs === undefined) return undefined;
  if (typeof inputs === 'object' && Object.keys(inputs).length === 0) return undefined;
  return JSON.parse(JSON.stringify(inputs));
}

function send(message) {
  fs.writeSync(channel, JSON.stringify(message) + '\n');
}

function makeLogger(debugEnabled) {
  const line = (prefix) => (...args) => {
    const text = util.format(...args);
    for (const part of text.split(/\r?\n/)) send({ t: 'log', text: prefix + part });
  };
  const logger = {
    info: line(''),
    log: line(''),
    success: line(''),
    warn: line('warning: '),
    error: line('error: '),
    debug: debugEnabled ? line('debug: ') : () => {},
    trace: debugEnabled ? line('trace: ') : () => {},
  };
  logger.child = () => logger;
  return logger;
}

function pick(mod, phase) {
  if (mod && typeof mod[phase] === 'function') return mod[phase];
  if (mod && mod.default && typeof mod.default[phase] === 'function') return mod.default[phase];
  return null;
}

function plain(value) {
  // outputs are JSON: functions, symbols and cycles are dropped rather than failing
  const seen = new WeakSet();
  return JSON.parse(JSON.stringify(value === undefined ? {} : value, (key, v) => {
    if (typeof v === 'object' && v !== null) {
      if (seen.has(v)) return undefined;
      seen.add(v);
    }
    return typeof v === 'bigint' ? v.toString() : v;
  }));
}

async function main() {
  const request = JSON.parse(fs.readFileSync(0, 'utf8'));
  const logger = makeLogger(Boolean(process.env.SCD_DEBUG));
  let mod;
  try {
    mod = require(request.module);
  } catch (err) {
    throw new Error(`cannot load ${request.name}: ${err && err.message ? err.message : err}`);
  }
  const fn = pick(mod, request.phase);
  if (fn === null) {
    const what = request.phase === 'run' ? 'run(inputs, context, logger)' : 'postRun';
    throw new Error(`${request.name} exports no ${what}`);
  }
  const returned = await fn(request.inputs, request.context, logger);
  const outputs = plain(returned);
  send({
    t: 'result',
    outputs: outputs !== null && typeof outputs === 'object' && !Array.isArray(outputs) ? outputs : {},
    postRun: pick(mod, 'postRun') !== null,
  });
}

main().then(
  () => process.exit(0),
  (err) => {
    const message = err && err.message ? err.message : String(err);
    try {
      send({ t: 'error', message });
    } finally {
      process.exit(1);
    }
  },
);
