// A second plugin with postRun: post-run hooks run in reverse order of declaration.
'use strict';

module.exports = {
  run: async () => ({ ok: true }),
  postRun: async (inputs, context, logger) => logger.info('late post'),
};
