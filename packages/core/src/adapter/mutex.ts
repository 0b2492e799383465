/**
 * A first-in, first-out lock for async code. `tryLock` takes it without waiting when it is free;
 * `lock` waits for the turn; `unlock` hands it to the next waiter, in call order.
 */
export class Mutex {
  private locked = false;
  private readonly waiters: Array<() => void> = [];

  /** Whether someone holds the lock. */
  get isLocked(): boolean {
    return this.locked;
  }

  /** Takes the lock when it is free; returns whether it did. */
  tryLock(): boolean {
    if (this.locked) return false;
    this.locked = true;
    return true;
  }

  /** Resolves once the caller holds the lock. */
  lock(): Promise<void> {
    if (this.tryLock()) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push(resolve);
    });
  }

  /** Releases the lock, handing it straight to the next waiter when there is one. */
  unlock(): void {
    const next = this.waiters.shift();
    if (next === undefined) {
      this.locked = false;
    } else {
      next();
    }
  }
}
