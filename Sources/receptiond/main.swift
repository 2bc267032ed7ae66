print("receptiond: not built yet")
