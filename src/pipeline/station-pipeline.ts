// The station as one RxJS pipeline: trigger → (admission) → grab, preprocess, infer, score,
// verdict → outcomes for the sinks. This file only composes; each stage lives in its own module.
import {
  defer, exhaustMap, filter, first, firstValueFrom, interval, map, mergeMap, Observable, of, takeUntil, takeWhile, tap,
} from "rxjs";

import { boundedOrderedMap } from "./bounded-queue.js";
import { errorOutcome, inspectPart, type StationContext } from "./inspect-part.js";
import { PartLine } from "./part-line.js";
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

// null: the source has no more frames. "retry": the camera was lost and is back.
type Step = PartOutcome | "retry" | null;

/** Parts started ahead in continuous mode: one in the worker, one grabbed and queued behind it. */
const AHEAD = 2;

/**
 * Continuous mode as fast as the station goes: part n+1 is grabbed, prepared and queued for the
 * worker while part n is inferred, so the worker never waits for the camera, OpenCV or MQTT.
 */
function partsAhead(context: StationContext, nextRequest: () => PartRequest, stopping: () => boolean,
  stop$: Observable<unknown>): Observable<Step> {
  return new Observable<Step>((subscriber) => {
    let cancelled = false;
    const waitForSource = () => firstValueFrom(context.source.health$.pipe(first((h) => h.ok), map(() => true), takeUntil(stop$)),
      { defaultValue: false });
    const line = new PartLine(context);
    void (async () => {
      const started: Promise<PartOutcome | null>[] = [];
      while (!cancelled) {
        while (started.length < AHEAD && !stopping()) started.push(line.start(nextRequest()));
        const outcome = await started.shift();
        if (!outcome) break;
        if (outcome.code === "SOURCE_UNAVAILABLE") {
          // Without a part there is nothing to answer: a lost camera is waited for, not turned into ERRORs.
          if (stopping() || !(await waitForSource())) break;
          continue;
        }
        subscriber.next(outcome);
      }
      // Parts already started are answered before the end (a stop finishes what is in flight).
      for (const pending of started) {
        const outcome = await pending;
        if (outcome && outcome.code !== "SOURCE_UNAVAILABLE") subscriber.next(outcome);
      }
      subscriber.complete();
    })().catch((err: unknown) => subscriber.error(err));
    return () => { cancelled = true; };
  });
}

function continuousParts({ context, counters, stop$ }: PipelineInputs, minIntervalMs: number): Observable<PartOutcome> {
  const start = new Date();
  let numbered = 0;
  let stopping = false;
  stop$.pipe(first()).subscribe(() => { stopping = true; });
  const nextRequest = (): PartRequest => ({ partId: continuousId(start, ++numbered), triggeredAt: new Date() });
  // Without a part there is nothing to answer: a lost camera is waited for, not turned into ERRORs.
  const onePart = (): Observable<Step> => defer(() => inspectPart(context, nextRequest()))
    .pipe(mergeMap((outcome) => outcome?.code === "SOURCE_UNAVAILABLE"
      ? context.source.health$.pipe(first((h) => h.ok), map((): Step => "retry"), takeUntil(stop$))
      : of(outcome)));
  let busy = false;
  const steps = minIntervalMs === 0
    ? partsAhead(context, nextRequest, () => stopping, stop$)
    : interval(minIntervalMs).pipe(
      takeUntil(stop$),
      tap(() => { if (busy) counters.dropped++; }),
      exhaustMap(() => {
        busy = true;
        return onePart().pipe(tap({ finalize: () => { busy = false; } }));
      }),
    );
  return steps.pipe(
    takeWhile((step) => step !== null),
    filter((step): step is PartOutcome => step !== "retry"),
  );
}

function triggeredParts({ context, counters, stop$, triggers$ }: PipelineInputs, queue: number): Observable<PartOutcome> {
  type Admitted = { request: PartRequest } | { rejected: PartOutcome };
  const line = new PartLine(context);
  return triggers$!.pipe(
    takeUntil(stop$),
    map((payload): Admitted => {
      const parsed = parseTriggerPayload(payload);
      if (parsed.ok) return { request: { partId: parsed.partId, recipe: parsed.recipe, triggeredAt: new Date() } };
      counters.badTriggers++;
      return { rejected: errorOutcome(context, null, "BAD_TRIGGER", `trigger refused: ${parsed.reason}`) };
    }),
    // A part's frame is grabbed when its trigger comes, even with parts ahead of it in the queue:
    // the part is in front of the camera now, not when the station gets round to it.
    boundedOrderedMap(queue,
      async (item) => "rejected" in item ? item.rejected : await line.start(item.request)
        ?? errorOutcome(context, item.request, "SOURCE_UNAVAILABLE", `${context.source.description} has no more frames`),
      (item) => {
        if ("rejected" in item) return item.rejected;
        counters.busy++;
        return errorOutcome(context, item.request, "BUSY", `${queue} part(s) already waiting; the station cannot keep up with the triggers`);
      }),
  );
}

export function stationPipeline(inputs: PipelineInputs): Observable<PartOutcome> {
  const trigger = inputs.context.config.trigger;
  const outcomes = trigger.type === "continuous" ? continuousParts(inputs, trigger.minIntervalMs) : triggeredParts(inputs, trigger.queue);
  return outcomes.pipe(tap((outcome) => { if (outcome.code !== "BAD_TRIGGER") inputs.counters.parts++; }));
}
