import { describe, expect, it } from 'vitest';
import { abortKind, abortMessage } from './process-abort.js';

function abortedWith(reason: unknown): AbortSignal {
  const controller = new AbortController();
  controller.abort(reason);
  return controller.signal;
}

function named(name: string, message: string): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}

describe('abortMessage', () => {
  it('tells timeouts from cancellations by the reason’s name', () => {
    expect(abortKind(abortedWith(named('TaskTimedOut', 'timed out after 5000 ms')))).toBe('timed out');
    expect(abortKind(abortedWith(named('RunTimedOut', 'run timed out after 1 ms')))).toBe('timed out');
    expect(abortKind(AbortSignal.abort())).toBe('cancelled');
    expect(abortKind(abortedWith(named('RunCancelled', 'cancelled')))).toBe('cancelled');
  });

  it('uses the reason’s message when it already names the kind', () => {
    expect(abortMessage(abortedWith(named('TaskTimedOut', 'timed out after 5000 ms')), 'x')).toBe(
      'timed out after 5000 ms: x',
    );
    expect(abortMessage(abortedWith(named('RunTimedOut', 'run timed out after 9 ms')))).toBe(
      'run timed out after 9 ms',
    );
  });

  it('adds the kind in front of any other reason', () => {
    expect(abortMessage(abortedWith(new Error('user pressed stop')))).toBe('cancelled (user pressed stop)');
    expect(abortMessage(abortedWith('shutting down'), 'GET /')).toBe('cancelled (shutting down): GET /');
    expect(abortMessage(abortedWith(new Error('cancelled')))).toBe('cancelled');
  });
});
