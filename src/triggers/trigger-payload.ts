// What a PLC may send on the trigger topic: a bare part id ("A-1234"), or JSON
// {"partId": "A-1234", "recipe": "…"} (a number as partId is taken as its digits). Anything else
// is refused with a reason that goes into a BAD_TRIGGER verdict.
export const MAX_PART_ID_LENGTH = 128;
const MAX_PAYLOAD_BYTES = 4096;
// Control characters would corrupt logs and CSV exports downstream.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export type TriggerParse = { ok: true; partId: string; recipe?: string } | { ok: false; reason: string };

/** Why a part id cannot be used, or undefined; the same rules for every trigger source. */
export function checkPartId(id: string): string | undefined {
  if (id.length === 0) return "the part id is empty";
  if (id.length > MAX_PART_ID_LENGTH) return `the part id is longer than ${MAX_PART_ID_LENGTH} characters`;
  if (CONTROL.test(id)) return "the part id contains control characters";
  return undefined;
}

export function parseTriggerPayload(payload: Buffer): TriggerParse {
  if (payload.length > MAX_PAYLOAD_BYTES) return { ok: false, reason: `the payload is ${payload.length} bytes (at most ${MAX_PAYLOAD_BYTES})` };
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(payload).trim();
  } catch {
    return { ok: false, reason: "the payload is not valid UTF-8 text" };
  }
  if (!text.startsWith("{")) {
    const problem = checkPartId(text);
    return problem ? { ok: false, reason: problem } : { ok: true, partId: text };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: "the payload starts with { but is not valid JSON" };
  }
  const { partId, recipe } = json as { partId?: unknown; recipe?: unknown };
  let id: string;
  if (typeof partId === "string") id = partId.trim();
  else if (typeof partId === "number" && Number.isSafeInteger(partId)) id = String(partId);
  else return { ok: false, reason: 'the JSON needs "partId": a string or an integer' };
  const problem = checkPartId(id);
  if (problem) return { ok: false, reason: problem };
  if (recipe === undefined || recipe === null) return { ok: true, partId: id };
  if (typeof recipe !== "string" || !/^[A-Za-z0-9_.-]{1,64}$/.test(recipe)) {
    return { ok: false, reason: '"recipe" must be 1–64 letters, digits, _ . -' };
  }
  return { ok: true, partId: id, recipe };
}
