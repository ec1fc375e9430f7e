// Throws: the step fails with the message.
'use strict';

exports.run = async (inputs, context, logger) => {
  logger.info('about to fail');
  throw new Error(`kaboom ${inputs.why}`);
};
