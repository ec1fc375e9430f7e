// Exports no run: the step fails saying so.
'use strict';

module.exports = { version: 1 };
