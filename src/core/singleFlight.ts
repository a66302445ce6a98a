// One keyed single flight: concurrent callers with the same key share one pass.
export class SingleFlight<K, V> {
  private readonly flights = new Map<K, Promise<V>>();

  run(key: K, work: () => Promise<V>): Promise<V> {
    let flight = this.flights.get(key);
    if (!flight) {
      flight = work().finally(() => this.flights.delete(key));
      this.flights.set(key, flight);
    }
    return flight;
  }

  /** Resolves once every pass in flight now has ended, however it ended. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.flights.values()]);
  }

  get size(): number {
    return this.flights.size;
  }
}
