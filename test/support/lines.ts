/** Collects a child process's output stream into lines, as they come. */
export function collectLines(stream: ReadableStream<Uint8Array>, into: string[], tag = ''): Promise<void> {
  return (async () => {
    const decoder = new TextDecoder();
    let rest = '';
    for await (const chunk of stream) {
      rest += decoder.decode(chunk, { stream: true });
      const lines = rest.split('\n');
      rest = lines.pop()!;
      for (const line of lines) into.push(tag + line);
    }
    if (rest) into.push(tag + rest);
  })();
}
