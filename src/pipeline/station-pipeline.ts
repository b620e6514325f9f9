// The station as one RxJS pipeline: trigger → (admission) → grab, preprocess, infer, score,
// verdict → outcomes for the sinks. This file only composes; each stage lives in its own module.
import {
  defer, EMPTY, exhaustMap, filter, first, from, interval, map, mergeMap, type Observable, of, repeat, takeUntil, takeWhile,
  tap, timer,
} from "rxjs";

import { boundedConcatMap } from "./bounded-queue.js";
import { errorVerdict, inspectPart, type StationContext } from "./inspect-part.js";
import type { PartOutcome, PartRequest } from "./part.js";
import { parseTriggerPayload } from "../triggers/trigger-payload.js";

export interface StationCounters {
  parts: number;
  /** Continuous mode: ticks that came while a part was in flight. */
  dropped: number;
  /** Triggered mode: parts refused because the queue was full. */
  busy: number;
  badTriggers: number;
}

export interface PipelineInputs {
  context: StationContext;
  counters: StationCounters;
  /** Completes the trigger side: the part in flight and those queued still get their verdicts. */
  stop$: Observable<unknown>;
  /** Payloads on the trigger topic (triggered mode). */
  triggers$?: Observable<Buffer>;
}

function continuousId(start: Date, n: number): string {
  return `${start.toISOString().replace(/[-:]/g, "").slice(0, 15)}-${String(n).padStart(6, "0")}`;
}

function continuousParts({ context, counters, stop$ }: PipelineInputs, minIntervalMs: number): Observable<PartOutcome> {
  const start = new Date();
  let stopping = false;
  stop$.pipe(first()).subscribe(() => { stopping = true; });
  // null: the source has no more frames. "retry": the camera was lost and is back; without a
  // part there is nothing to answer, so a lost camera is waited for, not turned into ERRORs.
  type Step = PartOutcome | "retry" | null;
  const onePart = (): Observable<Step> => defer(() => inspectPart(context, { partId: continuousId(start, counters.parts + 1), triggeredAt: new Date() }))
    .pipe(mergeMap((outcome) => outcome?.message.code === "SOURCE_UNAVAILABLE"
      ? context.source.health$.pipe(first((h) => h.ok), map((): Step => "retry"), takeUntil(stop$))
      : of(outcome)));
  const steps = minIntervalMs === 0
    ? onePart().pipe(repeat({ delay: () => (stopping ? EMPTY : timer(0)) }))
    : interval(minIntervalMs).pipe(
      takeUntil(stop$),
      tap(() => { if (busy) counters.dropped++; }),
      exhaustMap(() => {
        busy = true;
        return onePart().pipe(tap({ finalize: () => { busy = false; } }));
      }),
    );
  let busy = false;
  return steps.pipe(
    takeWhile((step) => step !== null),
    filter((step): step is PartOutcome => step !== "retry"),
  );
}

function triggeredParts({ context, counters, stop$, triggers$ }: PipelineInputs, queue: number): Observable<PartOutcome> {
  type Admitted = { request: PartRequest } | { rejected: PartOutcome };
  return triggers$!.pipe(
    takeUntil(stop$),
    map((payload): Admitted => {
      const parsed = parseTriggerPayload(payload);
      if (parsed.ok) return { request: { partId: parsed.partId, recipe: parsed.recipe, triggeredAt: new Date() } };
      counters.badTriggers++;
      return { rejected: errorVerdict(context, null, "BAD_TRIGGER", `trigger refused: ${parsed.reason}`) };
    }),
    boundedConcatMap(queue,
      (item) => "rejected" in item ? of(item.rejected) : from(inspectPart(context, item.request)).pipe(
        map((outcome) => outcome ?? errorVerdict(context, item.request, "SOURCE_UNAVAILABLE", `${context.source.description} has no more frames`)),
      ),
      (item) => {
        if ("rejected" in item) return item.rejected;
        counters.busy++;
        return errorVerdict(context, item.request, "BUSY", `${queue} part(s) already waiting; the station cannot keep up with the triggers`);
      }),
  );
}

export function stationPipeline(inputs: PipelineInputs): Observable<PartOutcome> {
  const trigger = inputs.context.pipeline.trigger;
  const outcomes = trigger.type === "continuous" ? continuousParts(inputs, trigger.minIntervalMs) : triggeredParts(inputs, trigger.queue);
  return outcomes.pipe(tap((outcome) => { if (outcome.message.code !== "BAD_TRIGGER") inputs.counters.parts++; }));
}
