// @ts-check
// The process launcher: a small helper process that starts commands for the engine.
//
// fork() copies the forking process's page tables and write-protects its memory, so starting a
// command from the engine (hundreds of MB with SQLite, the API and the UI server) costs several
// times more than from a process of ~40 MB. The engine forks this file once and asks it to start
// every command; it stays plain JavaScript with no imports beyond Node so it loads fast and stays
// small (tsc still checks it, through the JSDoc types). See docs/architecture.md.
//
// Output never passes through here: for each command the launcher connects twice to the engine's
// output socket (named in the request), announces which command and stream it is, and hands those connections to the
// command as stdout and stderr. The engine reads them directly.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';

/** @typedef {import('./launcher-protocol.js').LaunchRequest} LaunchRequest */
/** @typedef {import('./launcher-protocol.js').LaunchReply} LaunchReply */
/** @typedef {import('node:net').Socket} Socket */

process.title = 'ultravisor-launcher';

/** @param {LaunchReply} reply */
function reply(reply) {
  // With a callback, a closed channel (the engine exited) is not an 'error' event that kills us.
  process.send?.(reply, undefined, {}, () => undefined);
}

/**
 * Connects to the engine's output socket and announces which stream of which command this is.
 * Resolves once the announcement is written, so no output can come before it.
 * @param {string} path
 * @param {string} header
 * @returns {Promise<Socket>}
 */
function openStream(path, header) {
  return new Promise((resolve, reject) => {
    const socket = connect(path, () => {
      socket.write(header, (err) => {
        if (err) reject(err);
        else resolve(socket);
      });
    });
    socket.once('error', reject);
  });
}

/**
 * The first line of an output connection (launcher-protocol.ts, outputHeaderBytes).
 * @param {number} id
 * @param {1 | 2} fd
 */
function header(id, fd) {
  return `${String(id).padStart(14, '0')} ${fd}\n`;
}

/** @param {unknown} err */
function codeOf(err) {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** @param {unknown} err */
function messageOf(err) {
  return err instanceof Error ? err.message : String(err);
}

/** @param {LaunchRequest} request */
async function launch(request) {
  /** @type {Socket[]} */
  const streams = [];
  if (request.output !== undefined) {
    const opened = await Promise.allSettled([
      openStream(request.output, header(request.id, 1)),
      openStream(request.output, header(request.id, 2)),
    ]);
    for (const result of opened) if (result.status === 'fulfilled') streams.push(result.value);
    const failed = opened.find((result) => result.status === 'rejected');
    if (failed !== undefined) {
      for (const stream of streams) stream.destroy();
      const err = /** @type {unknown} */ (failed.reason);
      reply({ type: 'failed', id: request.id, code: codeOf(err), message: messageOf(err), stage: 'output' });
      return;
    }
  }
  try {
    const [stdout = 'ignore', stderr = 'ignore'] = streams;
    // detached: the command leads a new process group, so the engine can stop its whole tree.
    const child = spawn(request.file, request.args, {
      cwd: request.cwd,
      env: request.env,
      detached: true,
      stdio: [request.stdin === undefined ? 'ignore' : 'pipe', stdout, stderr],
    });
    child.once('spawn', () => {
      if (child.pid !== undefined) reply({ type: 'started', id: request.id, pid: child.pid });
      if (child.stdin) {
        child.stdin.on('error', () => undefined); // A command may exit without reading its input.
        child.stdin.end(request.stdin);
      }
    });
    child.once('error', (err) => {
      if (child.pid === undefined)
        reply({ type: 'failed', id: request.id, code: codeOf(err), message: err.message, stage: 'spawn' });
    });
    child.once('exit', (code, signal) => {
      reply({ type: 'exited', id: request.id, code, signal });
    });
  } catch (err) {
    reply({ type: 'failed', id: request.id, code: codeOf(err), message: messageOf(err), stage: 'spawn' });
  } finally {
    // The command holds its own copies; the launcher never reads or writes its output.
    for (const stream of streams) stream.destroy();
  }
}

process.on('message', (/** @type {LaunchRequest} */ request) => {
  void launch(request);
});
reply({ type: 'ready' });
// The engine is gone: the commands it started keep running in their own groups, as with a crash.
process.on('disconnect', () => {
  process.exit(0);
});
// Ctrl-C in a terminal, a hang-up or a TERM sent to the whole process group reach the launcher too;
// the engine decides what happens to its runs (a graceful stop lets them finish), and the launcher,
// which never outlives the engine's IPC channel, keeps reporting their exits meanwhile.
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP']))
  process.on(signal, () => undefined);
