// Errors caused by what the user gave (a wrong path, a corrupt file, a bad size) rather than by the
// program: the CLI reports them with exit code 2.

/** A problem with the user's input; the message says what and where. */
export class InputError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "InputError";
  }
}

/** Run `work`, turning any error it throws into an InputError with the same message. */
export async function asInputError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    throw toInputError(e, undefined);
  }
}

/** Run `read`, turning any error it throws into an InputError, its message prefixed with `where` when given. */
export function asInputSync<T>(read: () => T, where?: string): T {
  try {
    return read();
  } catch (e) {
    throw toInputError(e, where);
  }
}

function toInputError(e: unknown, where: string | undefined): InputError {
  if (e instanceof InputError && where === undefined) return e;
  const message = (e as Error).message;
  return new InputError(where === undefined ? message : `${where}: ${message}`, { cause: e });
}
