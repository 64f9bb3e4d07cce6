/**
 * The most recent `capacity` ids seen (insertion order: the oldest is evicted first). The relay remembers the
 * event ids it published, the S3 sink the change ids it wrote, to tell a re-served change from a new one.
 */
export class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly capacity: number) {}
  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value as string);
  }
  has(id: string): boolean {
    return this.ids.has(id);
  }
}
