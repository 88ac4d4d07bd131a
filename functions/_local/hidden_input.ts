/**
 * What an operator task reads that must not be an argument (shell history, `ps`): all of
 * standard input when it is a pipe, as it came, or one line typed without echo at a terminal.
 */
export async function readHiddenInput(prompt: string): Promise<string> {
  const decoder = new TextDecoder();
  if (!Deno.stdin.isTerminal()) {
    let text = "";
    for await (const chunk of Deno.stdin.readable) text += decoder.decode(chunk, { stream: true });
    return text;
  }
  await Deno.stderr.write(new TextEncoder().encode(`${prompt} (not shown): `));
  Deno.stdin.setRaw(true);
  const bytes: number[] = [];
  const buffer = new Uint8Array(256);
  try {
    reading: while (true) {
      const read = await Deno.stdin.read(buffer);
      if (read === null) break;
      for (const byte of buffer.subarray(0, read)) {
        if (byte === 13 || byte === 10) break reading;
        if (byte === 3) Deno.exit(130); // Ctrl-C
        if (byte === 127 || byte === 8) bytes.pop();
        else bytes.push(byte);
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(new TextEncoder().encode("\n"));
  }
  return decoder.decode(new Uint8Array(bytes));
}
