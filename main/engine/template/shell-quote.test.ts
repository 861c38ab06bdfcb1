import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderTemplate, shellQuote, shellQuoter, type Scope } from './index.js';

describe('shellQuote', () => {
  it.each([
    ['', "''"],
    ['plain', "'plain'"],
    ["it's", "'it'\\''s'"],
    ["''", "''\\'''\\'''"],
  ])('%j → %s', (value, expected) => {
    expect(shellQuote(value)).toBe(expected);
  });
});

describe('rendered shell commands run by a real /bin/sh', () => {
  let sandbox: string;
  let marker: string;

  beforeAll(() => {
    // HOME points into the sandbox so that even a broken quoter could only delete the sandbox.
    sandbox = mkdtempSync(path.join(tmpdir(), 'ultravisor-shell-'));
    writeFileSync(path.join(sandbox, 'canary'), 'still here');
    writeFileSync(path.join(sandbox, 'glob-target.txt'), '');
    marker = path.join(tmpdir(), `pwned-${randomUUID()}`);
  });

  afterAll(() => {
    rmSync(sandbox, { recursive: true, force: true });
    rmSync(marker, { force: true });
  });

  function sh(template: string, scope: Scope, shell = '/bin/sh'): string {
    const command = renderTemplate(template, scope, { quoter: shellQuoter });
    if (typeof command !== 'string') throw new Error('quoted render must give a string');
    return execFileSync(shell, ['-c', command], {
      cwd: sandbox,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: sandbox },
      encoding: 'utf8',
    });
  }

  const hostile = (): string[] => [
    '; rm -rf ~',
    `$(touch ${marker})`,
    `\`touch ${marker}\``,
    `"; touch ${marker}; echo "`,
    `'; touch ${marker}; echo '`,
    `it's "quoted" \\ \\'`,
    `line one\nline two; touch ${marker}`,
    '*',
    '~',
    '$HOME ${HOME} $0 $$',
    '&& echo injected || echo injected',
    '| cat > leaked.txt',
    '> leaked.txt',
    '-n',
    '   spaced   ',
    '',
    '!!',
    'tab\there\r',
    'ünïcødé 😀',
  ];

  it('passes each hostile value as exactly one literal argument', () => {
    for (const value of hostile()) {
      expect(sh("printf '[%s]\\n' {{ v }}", { v: value }), JSON.stringify(value)).toBe(`[${value}]\n`);
    }
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(path.join(sandbox, 'canary'))).toBe(true);
    expect(existsSync(path.join(sandbox, 'leaked.txt'))).toBe(false);
  });

  it('keeps argument boundaries with several values in one command', () => {
    const values = hostile();
    const scope: Scope = { values, first: values[0], second: values[1] };
    expect(sh("printf '[%s]\\n' {{ first }} {{ second }} x{{ second }}y", scope)).toBe(
      `[${values[0]}]\n[${values[1]}]\n[x${values[1]}y]\n`,
    );
    expect(sh("printf '[%s]\\n' {{ values }}", scope)).toBe(`[${JSON.stringify(values)}]\n`);
    expect(sh("printf '[%s]\\n' {{ item.n }} {{ missing }}", { item: { n: 42 } })).toBe('[42]\n[]\n');
    expect(existsSync(marker)).toBe(false);
  });

  const shells = ['/bin/sh', '/bin/bash'].filter((shell) => existsSync(shell));

  // Where the placeholder stands → what printf must print for a value v.
  const contexts: [string, string, (v: string) => string][] = [
    ['inside single quotes', "printf '[%s]\\n' '{{ v }}'", (v) => `[${v}]\n`],
    ['inside double quotes', 'printf \'[%s]\\n\' "{{ v }}"', (v) => `[${v}]\n`],
    ['mixed with text in double quotes', 'printf \'[%s]\\n\' "a {{ v }} b"', (v) => `[a ${v} b]\n`],
    [
      'in $(…) inside double quotes',
      'printf \'[%s]\\n\' "$(printf %s {{ v }})"',
      (v) => `[${v.replace(/\n+$/, '')}]\n`,
    ],
    [
      'in backticks inside double quotes',
      'printf \'[%s]\\n\' "`printf %s {{ v }}`"',
      (v) => `[${v.replace(/\n+$/, '')}]\n`,
    ],
    ['after a comment with a quote in it', "# it's a comment\nprintf '[%s]\\n' {{ v }}", (v) => `[${v}]\n`],
    ['in a comment (where it does nothing)', "printf '[%s]\\n' ok # {{ v }}", () => '[ok]\n'],
    ['after arithmetic with a shift', "printf '[%s]\\n' $(( 1 << 2 )) {{ v }}", (v) => `[4]\n[${v}]\n`],
    [
      'after a case pattern inside $(…) in double quotes',
      'printf \'[%s]\\n\' "$(case x in x) printf %s {{ v }};; esac)"',
      (v) => `[${v.replace(/\n+$/, '')}]\n`,
    ],
  ];

  it.each(contexts)('keeps each hostile value literal %s, in every shell', (_, template, expected) => {
    for (const shell of shells) {
      for (const value of hostile()) {
        expect(sh(template, { v: value }, shell), `${shell} ${JSON.stringify(value)}`).toBe(expected(value));
      }
    }
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(path.join(sandbox, 'canary'))).toBe(true);
    expect(existsSync(path.join(sandbox, 'leaked.txt'))).toBe(false);
  });

  it('keeps values literal in here-documents, quoted delimiter or not, and refuses what could end one', () => {
    const oneLine = hostile().filter((v) => !/[\r\n]/.test(v));
    for (const template of [
      'cat <<EOF\n[{{ v }}]\nEOF\n',
      "cat <<'EOF'\n[{{ v }}]\nEOF\n",
      'cat <<-EOF\n\t[{{ v }}]\n\tEOF\n',
      "cat <<EOF; printf '[%s]\\n' {{ v }}\nbody\nEOF\n",
    ]) {
      for (const value of oneLine) {
        const out = sh(template, { v: value });
        expect(out, `${template} ${JSON.stringify(value)}`).toContain(`[${value}]\n`);
      }
    }
    expect(() => sh('cat <<EOF\n{{ v }}\nEOF\n', { v: 'a\nEOF\ntouch pwned' })).toThrow(/line break/);
    expect(() => sh('cat <<EOF\n{{ v }}\nEOF\n', { v: 'EOF' })).toThrow(/end the here-document/);
    expect(existsSync(marker)).toBe(false);
  });

  it("keeps values literal inside bash's $'…' when they can be, and refuses the rest", () => {
    for (const shell of shells) {
      expect(sh("printf '[%s]\\n' $'{{ v }}'", { v: 'a b; $(touch pwned) `x` "q"' }, shell)).toMatch(
        /\[(\$)?a b; \$\(touch pwned\) `x` "q"\]\n/,
      );
    }
    expect(() => sh("printf '[%s]\\n' $'{{ v }}'", { v: "'; touch pwned; '" })).toThrow(/\$'…'/);
    expect(() => sh("printf '[%s]\\n' $'{{ v }}'", { v: 'a\\b' })).toThrow(/\$'…'/);
    expect(existsSync(path.join(sandbox, 'pwned'))).toBe(false);
  });

  it('refuses a placeholder that would combine with the text before it', () => {
    expect(() => sh('echo "${{ v }}"', { v: '(touch pwned)' })).toThrow(/after `\$`/);
    expect(() => sh('echo \\{{ v }}', { v: 'x' })).toThrow(/backslash/);
    expect(() => sh('cat <<{{ v }}\nx\n', { v: 'EOF' })).toThrow(/delimiter/);
    expect(existsSync(path.join(sandbox, 'pwned'))).toBe(false);
  });

  it('proves the harness can see an injection when values are not quoted', () => {
    const command = renderTemplate('printf "[%s]\\n" {{ v }}', { v: `x; touch ${marker}` });
    execFileSync('/bin/sh', ['-c', String(command)], { cwd: sandbox });
    expect(existsSync(marker)).toBe(true);
    rmSync(marker);
  });
});
