from . import test_stk_push
