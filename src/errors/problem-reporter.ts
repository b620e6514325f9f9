/**
 * Something of the station that goes wrong and right again by itself (the spool's disk, the
 * broker's ACL): `problem` with a reason when it starts, with null when it is over. The daemon
 * logs each change once, with `fix` or `fixed`, and keeps the status (degraded while any) in step.
 */
export type ProblemReporter = (part: string, where: object, fix: string, fixed: string) => (problem: string | null) => void;
