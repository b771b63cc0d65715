/**
 * A command line as Patroni splits it (Python's `shlex.split`, POSIX rules): words separated by
 * white space; single quotes keep everything; double quotes keep everything but `\` before
 * `\`, `"`, `$`, `` ` `` and a newline; a backslash outside quotes keeps the next character.
 * No shell runs the command: no variables, globs or pipes, exactly as in Patroni.
 */
export function splitCommandLine(text: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let i = 0;
  const add = (c: string) => {
    word = (word ?? '') + c;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (word !== null) words.push(word);
      word = null;
      i++;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new Error('no closing quotation');
      add(text.slice(i + 1, end));
      i = end + 1;
    } else if (c === '"') {
      let j = i + 1;
      let out = '';
      for (;;) {
        if (j >= text.length) throw new Error('no closing quotation');
        const d = text[j]!;
        if (d === '"') break;
        if (d === '\\' && j + 1 < text.length && '\\"$`\n'.includes(text[j + 1]!)) {
          out += text[j + 1];
          j += 2;
        } else {
          out += d;
          j++;
        }
      }
      add(out);
      i = j + 1;
    } else if (c === '\\') {
      if (i + 1 >= text.length) throw new Error('no escaped character');
      add(text[i + 1]!);
      i += 2;
    } else {
      add(c);
      i++;
    }
  }
  if (word !== null) words.push(word);
  return words;
}
