// A minimal Node `ws` broadcast server speaking the slice of Easel's WebSocket protocol that
// fanout.mjs uses. It exists as a baseline: the same client drives it and Easel, so the gap
// between the two is Easel's own cost (auth, SQLite, hub) rather than the client's.
//
//   node peer.mjs --port 4100        (prints "listening <port>" once ready)
//
// Differences from Easel on purpose: no auth (the user is `?user=<name>`), nothing is stored.
// perMessageDeflate is off (ws's default). ws already sets TCP_NODELAY on every socket
// (WebSocket#setSocket calls socket.setNoDelay()), so Nagle is off here; we keep that default.
import { WebSocketServer } from 'ws';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const port = Number(arg('port', 4100));

/** user name -> Set of that user's open sockets */
const byUser = new Map();

const wss = new WebSocketServer({ host: '127.0.0.1', port, path: '/ws', perMessageDeflate: false });

wss.on('connection', (ws, req) => {
  const user = new URL(req.url, 'http://x').searchParams.get('user') ?? 'anonymous';
  let sockets = byUser.get(user);
  if (!sockets) byUser.set(user, (sockets = new Set()));
  sockets.add(ws);
  ws.on('close', () => {
    sockets.delete(ws);
    if (sockets.size === 0 && byUser.get(user) === sockets) byUser.delete(user);
  });
  ws.on('error', () => {}); // a reset client just goes away, as its 'close' follows
  ws.send(JSON.stringify({ type: 'welcome' }));

  ws.on('message', (data) => {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (msg.type === 'send') {
      // Serialise once, send to every open socket of the user, sender included (like Easel's hub).
      const frame = JSON.stringify({
        type: 'message_added',
        message: { client_id: msg.client_id, text: msg.text, user },
      });
      for (const s of sockets) if (s.readyState === s.OPEN) s.send(frame);
    } else if (msg.type === 'create_thread') {
      ws.send(JSON.stringify({ type: 'thread_created', client_id: msg.client_id, thread: { id: 1 } }));
    }
  });
});

wss.on('listening', () => console.log(`listening ${wss.address().port}`));
wss.on('error', (e) => {
  console.error(`peer: ${e.message}`);
  process.exit(1);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
