/**
 * Link tracking: the state of every interface the daemon cares about (the instances'
 * interfaces, their VMACs, tracked interfaces), kept current by netlink events.
 */
import type { LinkState } from './ports.js';

export class LinkTable {
  private readonly links = new Map<number, LinkState>();

  set(link: LinkState): void {
    this.links.set(link.index, link);
  }

  get(index: number): LinkState | undefined {
    return this.links.get(index);
  }

  byName(name: string): LinkState | undefined {
    return [...this.links.values()].find((l) => l.name === name);
  }

  /**
   * Records a netlink link event; returns whether the link is now operational (up with
   * carrier), or undefined when that did not change.
   */
  update(link: LinkState): boolean | undefined {
    const before = this.links.get(link.index);
    this.links.set(link.index, link);
    const operational = LinkTable.operational(link);
    const was = before ? LinkTable.operational(before) : undefined;
    return was === operational ? undefined : operational;
  }

  static operational(link: LinkState): boolean {
    return link.up && link.carrier;
  }
}
