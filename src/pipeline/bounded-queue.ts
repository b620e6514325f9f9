// The admission of parts: each admitted item's work starts at once (its frame is grabbed while the
// part is still in front of the camera) and results come out in arrival order. At most `limit`
// items wait beyond the oldest; one more is answered at once by `overflow` (a BUSY verdict)
// instead of growing memory.
import { Observable, type OperatorFunction } from "rxjs";

export function boundedOrderedMap<T, R>(limit: number, start: (item: T) => Promise<R>,
  overflow: (item: T) => R): OperatorFunction<T, R> {
  return (source) => new Observable<R>((subscriber) => {
    let admitted = 0;
    let sourceDone = false;
    let emitted: Promise<void> = Promise.resolve();
    const subscription = source.subscribe({
      next: (item) => {
        if (admitted > limit) {
          subscriber.next(overflow(item));
          return;
        }
        admitted++;
        const result = start(item);
        emitted = emitted.then(() => result).then((value) => {
          admitted--;
          subscriber.next(value);
          if (sourceDone && admitted === 0) subscriber.complete();
        }, (err: unknown) => subscriber.error(err));
      },
      error: (err) => subscriber.error(err),
      complete: () => {
        sourceDone = true;
        if (admitted === 0) subscriber.complete();
      },
    });
    return () => subscription.unsubscribe();
  });
}
