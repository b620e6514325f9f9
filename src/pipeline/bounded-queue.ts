// concatMap with a bound: items wait in order while one is in flight; beyond `limit` waiting,
// an item is answered at once by `overflow` (a BUSY verdict) instead of growing memory.
import { from, Observable, type ObservableInput, type OperatorFunction } from "rxjs";

export function boundedConcatMap<T, R>(limit: number, project: (item: T) => ObservableInput<R>,
  overflow: (item: T) => R): OperatorFunction<T, R> {
  return (source) => new Observable<R>((subscriber) => {
    const waiting: T[] = [];
    let busy = false;
    let sourceDone = false;
    const start = (item: T) => {
      busy = true;
      from(project(item)).subscribe({
        next: (result) => subscriber.next(result),
        error: (err) => subscriber.error(err),
        complete: () => {
          busy = false;
          const next = waiting.shift();
          if (next !== undefined) start(next);
          else if (sourceDone) subscriber.complete();
        },
      });
    };
    const subscription = source.subscribe({
      next: (item) => {
        if (!busy) start(item);
        else if (waiting.length < limit) waiting.push(item);
        else subscriber.next(overflow(item));
      },
      error: (err) => subscriber.error(err),
      complete: () => {
        sourceDone = true;
        if (!busy) subscriber.complete();
      },
    });
    return () => subscription.unsubscribe();
  });
}
