// Never returns: a timeout or cancel must kill its process.
'use strict';

const fs = require('fs');

exports.run = async (inputs) => {
  fs.writeFileSync(inputs.pidfile, String(process.pid));
  await new Promise(() => setInterval(() => {}, 1000));
};
