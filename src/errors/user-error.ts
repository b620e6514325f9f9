/** An error the user can act on: printed as its message alone, with a non-zero exit status. */
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = "UserError";
  }
}
