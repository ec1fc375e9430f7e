// A serverless-cd style plugin: outputs, a logger, the context shape, postRun.
'use strict';

exports.run = async (inputs, context, logger) => {
  logger.info('hello %s', inputs.who);
  console.log('a plain stdout line');
  logger.info(`the token is ${context.inputs.secrets.TOKEN}`);
  logger.warn('careful');
  return {
    greeting: `hi ${inputs.who}`,
    count: 2,
    branch: context.$variables.git.branch,
    pusher: context.inputs.git.pusher.name,
    cwd: context.cwd,
    stepCount: context.stepCount,
    previous: context.$variables.steps.first.status,
    sd: process.env.SERVERLESS_CD,
    leaked: process.env.SCD_BRIDGE_FD === undefined ? 'no' : 'yes',
  };
};

exports.postRun = async (inputs, context, logger) => {
  const step = context.steps.find((s) => s.stepCount === context.stepCount);
  const run = context.steps.find((s) => s.stepCount === step.runStepCount);
  logger.info(`post ${inputs.who}: run said ${run.outputs.greeting}; run status ${context.status}`);
};
