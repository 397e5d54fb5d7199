// graphql-http's server audits (GraphQL over HTTP) against the URL given as the only argument; prints one
// JSON array of {id, name, status, reason, responseStatus, contentType} on stdout.
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(join(process.env.KEZEK_NODE_MODULES, 'package.json'));
const { serverAudits } = require('graphql-http');

const url = process.argv[2];
const results = await Promise.all(serverAudits({ url }).map(({ fn }) => fn()));
console.log(JSON.stringify(results.map((r) => ({
  id: r.id,
  name: r.name,
  status: r.status,
  reason: r.reason ?? null,
  responseStatus: r.response ? r.response.status : null,
  contentType: r.response ? r.response.headers.get('content-type') : null,
}))));
