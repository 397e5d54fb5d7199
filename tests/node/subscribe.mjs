// The reference graphql-ws client (as Apollo Client for the web uses it): connects to the URL with the token
// in connection_init's payload, subscribes, prints the first result as JSON on stdout and exits 0. Any
// error, a close or a completion before a result, or 60 s without one, exits 1 with the reason on stderr.
// Arguments: URL, token, query, variables (JSON).
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(join(process.env.KEZEK_NODE_MODULES, 'package.json'));
const { createClient } = require('graphql-ws');
const WebSocket = require('ws');

const [url, token, query, variables] = process.argv.slice(2);
const fail = (why) => {
  console.error(why);
  process.exit(1);
};
const timer = setTimeout(() => fail('no result within 60 s'), 60_000);
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${token}` },
  retryAttempts: 0,
  on: { connected: (socket) => console.error(`connected with ${socket.protocol}`) },
});
client.subscribe(
  { query, variables: JSON.parse(variables) },
  {
    next: (result) => {
      console.log(JSON.stringify(result));
      clearTimeout(timer);
      client.dispose();
      process.exit(0);
    },
    error: (error) => {
      if (error && typeof error.code === 'number') fail(`closed: ${error.code} ${error.reason}`);
      else fail(`error: ${error?.message ?? error?.type ?? String(error)}`); // an Error or a socket's ErrorEvent
    },
    complete: () => fail('completed without a result'),
  },
);
