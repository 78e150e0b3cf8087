/**
 * The UserRegistry contract: what precise delivery, user status and the session quota rely
 * on, passed by the Memory and the Redis implementation alike. `make()` returns a fresh,
 * empty registry.
 */
import { describe, expect, test } from 'bun:test';
import type { UserRegistry } from '../../../src/cluster/users.ts';

export function usersContract(name: string, make: () => UserRegistry): void {
  describe(`UserRegistry contract: ${name}`, () => {
    test('counts sessions per instance; an instance entry goes at zero', async () => {
      const users = make();
      expect(await users.add('a', 'bob', 'i1')).toBe(true);
      expect(await users.add('a', 'bob', 'i1')).toBe(true);
      expect(await users.add('a', 'bob', 'i2')).toBe(true);
      expect(await users.locate('a', 'bob')).toEqual(new Map([['i1', 2], ['i2', 1]]));
      expect(await users.count('a', ['bob', 'carol'])).toEqual(new Map([['bob', 3], ['carol', 0]]));
      await users.remove('a', 'bob', 'i1');
      await users.remove('a', 'bob', 'i2');
      expect(await users.locate('a', 'bob')).toEqual(new Map([['i1', 1]]));
      await users.remove('a', 'bob', 'i1');
      expect(await users.locate('a', 'bob')).toEqual(new Map());
      expect(await users.count('a', ['bob'])).toEqual(new Map([['bob', 0]]));
    });

    test('removing a session that was never added changes nothing', async () => {
      const users = make();
      await users.remove('a', 'ghost', 'i1');
      await users.add('a', 'dan', 'i1');
      await users.remove('a', 'dan', 'i2');
      expect(await users.locate('a', 'ghost')).toEqual(new Map());
      expect(await users.locate('a', 'dan')).toEqual(new Map([['i1', 1]]));
    });

    test('apps are separate, and user IDs that look like prototype keys are users like any other', async () => {
      const users = make();
      await users.add('a', 'bob', 'i1');
      await users.add('a', '__proto__', 'i1');
      expect(await users.count('b', ['bob'])).toEqual(new Map([['bob', 0]]));
      expect(await users.count('a', ['__proto__', 'constructor'])).toEqual(new Map([['__proto__', 1], ['constructor', 0]]));
      expect(await users.locate('b', 'bob')).toEqual(new Map());
    });

    test('the limit holds under concurrent adds on several instances', async () => {
      const users = make();
      const added = await Promise.all(Array.from({ length: 10 }, (_, i) => users.add('a', 'eve', `i${i % 3}`, 4)));
      expect(added.filter(Boolean).length).toBe(4);
      expect((await users.count('a', ['eve'])).get('eve')).toBe(4);
      await users.remove('a', 'eve', [...(await users.locate('a', 'eve')).keys()][0]!);
      expect(await users.add('a', 'eve', 'i9', 4)).toBe(true);
      expect(await users.add('a', 'eve', 'i9', 4)).toBe(false);
    });

    test("removeInstance removes exactly that instance's sessions and says how many users it had", async () => {
      const users = make();
      await users.add('a', 'bob', 'dead');
      await users.add('a', 'bob', 'dead');
      await users.add('a', 'bob', 'alive');
      await users.add('b', 'user:with:colons', 'dead');
      expect(await users.removeInstance('dead')).toBe(2);
      expect(await users.locate('a', 'bob')).toEqual(new Map([['alive', 1]]));
      expect(await users.locate('b', 'user:with:colons')).toEqual(new Map());
      expect(await users.removeInstance('dead')).toBe(0);
    });

    test('restore sets counts (not increments), and removeInstance finds them', async () => {
      const users = make();
      await users.add('a', 'bob', 'i1');
      await users.restore('i1', [
        { app: 'a', user: 'bob', sessions: 3 },
        { app: 'a', user: 'carol', sessions: 1 },
      ]);
      expect(await users.count('a', ['bob', 'carol'])).toEqual(new Map([['bob', 3], ['carol', 1]]));
      expect(await users.removeInstance('i1')).toBe(2);
      expect(await users.count('a', ['bob', 'carol'])).toEqual(new Map([['bob', 0], ['carol', 0]]));
    });
  });
}
