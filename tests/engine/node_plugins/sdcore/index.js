// A plugin written against serverless-cd's own core library, as its plugins are:
// getInputs resolves templates against context.$variables, getStepContext finds steps.
'use strict';

const core = require('@serverless-cd/core');

exports.run = async (inputs, context, logger) => {
  const resolved = core.getInputs(inputs, context);
  const { run } = core.getStepContext(context);
  logger.info(`core resolved ${resolved.greeting}`);
  return { greeting: resolved.greeting, runType: run.type, ref: core.parseRef(context.inputs.git.ref).value };
};

exports.postRun = async (inputs, context, logger) => {
  const { run, postRun } = core.getStepContext(context);
  logger.info(`core post: ${postRun.type} of ${run.id} (${run.outputs.greeting})`);
};
