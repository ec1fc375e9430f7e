// A plugin written against serverless-cd's own core library, as its plugins are:
// getInputs, getStepContext, parseRef, and art-template over context.$variables.
'use strict';

const core = require('@serverless-cd/core');

exports.run = async (inputs, context, logger) => {
  const resolved = core.getInputs(inputs, context);
  const { run } = core.getStepContext(context);
  const scope = core.getArtTemplate(context).compile('{{ git.branch }} while {{ status }}');
  logger.info(`core resolved ${resolved.greeting}`);
  return {
    greeting: resolved.greeting,
    rendered: scope(context.$variables),
    runType: run.type,
    ref: core.parseRef(context.inputs.git.ref).value,
  };
};

exports.postRun = async (inputs, context, logger) => {
  const { run, postRun } = core.getStepContext(context);
  logger.info(`core post: ${postRun.type} of ${run.id} (${run.outputs.rendered})`);
};
