/** A Chrome DevTools Protocol session with the process whose V8 inspector listens on `port`. */
export interface InspectorSession {
  // deno-lint-ignore no-explicit-any -- CDP answers, read field by field by the callers
  send(method: string, params?: Record<string, unknown>): Promise<any>;
  close(): void;
}

export async function openInspector(port: number): Promise<InspectorSession> {
  const [target] = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  let nextId = 0;
  const answers = new Map<number, (result: unknown) => void>();
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    answers.get(message.id)?.(message.result);
    answers.delete(message.id);
  };
  return {
    send: (method, params = {}) =>
      new Promise((resolve) => {
        nextId += 1;
        answers.set(nextId, resolve);
        socket.send(JSON.stringify({ id: nextId, method, params }));
      }),
    close: () => socket.close(),
  };
}
